"""SLOs: the burn rate and the budget left equal figures worked out by hand on fixed data (dashapp/slo.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashapp import slo
from dashapp.alerts.evaluate import evaluate
from dashapp.alerts.rules import load_rules
from dashapp.charts.services import budget_figure, slo_table_figure
from dashapp.config import Config
from dashapp.db import Database
from tests.fixtures import write_partitioned

END = datetime(2024, 5, 10)
CONFIG = Config()
OBJECTIVES = slo.objectives(CONFIG)
AVAILABILITY, LATENCY, ACCURACY = OBJECTIVES["availability"], OBJECTIVES["latency"], OBJECTIVES["accuracy"]


def test_burn_rate_and_budget_left_by_hand():
    # 99.9%: a budget of 1 bad sample in 1,000. 1 bad of 4,000 is a quarter of it: burn 0.25, 75% left.
    assert slo.burn_rate(1, 4000, AVAILABILITY) == pytest.approx(0.25)
    assert slo.budget_left(1, 4000, AVAILABILITY) == pytest.approx(0.75)
    # p95 under the bound: 5% may be slow. 10 slow of 100 burns twice as fast; the budget is overspent by 100%.
    assert slo.burn_rate(10, 100, LATENCY) == pytest.approx(2.0)
    assert slo.budget_left(10, 100, LATENCY) == pytest.approx(-1.0)
    # 75% right: 25 wrong of 100 spends exactly the budget.
    assert slo.burn_rate(25, 100, ACCURACY) == pytest.approx(1.0)
    assert slo.budget_left(25, 100, ACCURACY) == pytest.approx(0.0)
    # Too few events to judge (latency needs 50 requests in a window): no burn rate, not 0.
    assert np.isnan(slo.burn_rate(10, 49, LATENCY))


def _stream(bad_at: dict[int, float], buckets: int = 24, total: float = 10) -> pd.DataFrame:
    """Availability events of one service: `buckets` 5-minute buckets of `total` samples, bad ones at given indexes."""
    start = END - timedelta(minutes=5 * buckets)
    return pd.DataFrame(
        {
            "bucket": pd.date_range(start, periods=buckets, freq="5min"),
            "slo": "availability",
            "service": "database",
            "good": [total - bad_at.get(i, 0) for i in range(buckets)],
            "total": total,
        }
    )


def test_the_multiwindow_burn_rate_is_the_lower_of_the_two_windows():
    """5 of 10 samples fail in bucket 20 of 24 (5 minutes each, two hours in all)."""
    events = _stream({20: 5})
    fast = slo.multiwindow_burn(events, AVAILABILITY, timedelta(hours=1), timedelta(minutes=5), slo.STEP)
    value = dict(zip(fast["bucket"], fast["value"], strict=True))
    at = pd.date_range(END - timedelta(hours=2), periods=24, freq="5min")
    # Bucket 20: the last hour holds buckets 9..20, 5 bad of 120 samples, 5/120/0.001 = 41.67; the last
    # 5 minutes 5 of 10 = 500. Both windows reach 41.67.
    assert value[at[20]] == pytest.approx(125 / 3)
    # Bucket 21: the hour still burns at 41.67, but the last 5 minutes are clean: the alert resets at once.
    assert value[at[21]] == 0
    assert value[at[19]] == 0  # before the failure
    medium = slo.multiwindow_burn(events, AVAILABILITY, timedelta(hours=6), timedelta(minutes=30), slo.STEP)
    # Bucket 23: the last 30 minutes (buckets 18..23) hold 5 bad of 60 = 83.3; 6 hours reach back past the first
    # bucket, so they hold all 240 samples: 5/240/0.001 = 20.83.
    assert medium.set_index("bucket").loc[at[23], "value"] == pytest.approx(125 / 6)


def test_a_window_with_too_few_events_has_no_burn_rate():
    """Latency needs 50 requests in each window: 12 buckets of 4 requests make an hour of 48."""
    events = _stream({11: 4}, buckets=12, total=4).assign(slo="latency", service="model-server")
    assert slo.multiwindow_burn(events, LATENCY, timedelta(hours=1), timedelta(minutes=5), slo.STEP).empty


# -- the SLO table on fixed data ---------------------------------------------------------------------


def _service_metrics() -> pd.DataFrame:
    """db-0 sampled each minute for the 3 days before END, down for the 30 minutes from END - 2 h."""
    ts = pd.date_range(END - timedelta(days=3), END - timedelta(minutes=1), freq="1min").as_unit("us")
    down = (ts >= END - timedelta(hours=2)) & (ts < END - timedelta(minutes=90))
    return pd.DataFrame(
        {
            "ts": ts,
            "service": "database",
            "instance": "db-0",
            "up": (~down).astype("int64"),
            "cpu_pct": np.where(down, np.nan, 20.0),
            "memory_pct": np.where(down, np.nan, 50.0),
            "disk_pct": np.where(down, np.nan, 40.0),
        }
    )


def _predictions() -> pd.DataFrame:
    """100 requests in the last hour, 10 of them 2 s or slower and 20 cache misses; 200 two days before with
    outcomes, 150 right."""
    recent = pd.DataFrame(
        {
            "ts": pd.date_range(END - timedelta(minutes=50), periods=100, freq="30s"),
            "latency_ms": [2500.0] * 9 + [2000.0] + [150.0] * 90,  # 2,000 ms itself is not under 2 s
            "cache_hit": [False] * 20 + [True] * 80,
        }
    )
    older = pd.DataFrame(
        {"ts": pd.date_range(END - timedelta(days=2), periods=200, freq="1min"), "latency_ms": 100.0, "cache_hit": True}
    )
    frame = pd.concat([older, recent], ignore_index=True)
    n = len(frame)
    return frame.assign(
        ts=frame["ts"].astype("datetime64[us]"),
        request_id=[f"r{i:03d}" for i in range(n)],
        symbol="AAPL",
        model_version="v1",
        sentiment_score=0.5,
        confidence=0.9,
        label="positive",
        status=200,
    )


def _outcomes(predictions: pd.DataFrame) -> pd.DataFrame:
    older = predictions.iloc[:200]
    return pd.DataFrame(
        {
            "request_id": older["request_id"],
            "ts": older["ts"] + pd.Timedelta(hours=3),
            "true_label": ["positive"] * 150 + ["negative"] * 50,
        }
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Database:
    data = tmp_path_factory.mktemp("slo") / "data"
    predictions = _predictions()
    write_partitioned(data, "service_metrics", _service_metrics())
    write_partitioned(data, "predictions", predictions)
    write_partitioned(data, "outcomes", _outcomes(predictions))
    return Database(Config(data_dir=data, cache_type="null"))


def test_the_slo_table_equals_the_figures_worked_out_by_hand(db):
    table = slo.status_table(db, END).set_index("slo")
    database = table.loc["availability"]
    # 4,320 samples in 3 days, 30 down: 30 / (0.001 x 4,320) = 6.94 budgets spent, 5.94 overspent.
    assert database["sli"] == pytest.approx(4290 / 4320)
    assert database["budget_left"] == pytest.approx(1 - 30 / 4.32)
    assert database["burn_1h"] == 0  # the outage ended 90 minutes before END
    assert database["burn_6h"] == pytest.approx(30 / 360 / 0.001)
    assert database["burn_3d"] == pytest.approx(30 / 4320 / 0.001)
    assert database["now"] == 1.0 and database["service"] == "database"

    latency = table.loc["latency"]
    # Last hour: 10 of 100 requests at 2 s or more, twice the 5% allowed. 30 days: 10 of 300.
    assert latency["now"] == pytest.approx(0.9)
    assert latency["burn_1h"] == pytest.approx(2.0)
    assert latency["budget_left"] == pytest.approx(1 - 10 / (0.05 * 300))
    assert latency["p95_ms"] == pytest.approx(np.percentile([2500.0] * 9 + [2000.0] + [150.0] * 90, 95))

    cache = table.loc["cache_hit_rate"]
    # Last hour 20 misses of 100 lookups against 10% allowed: burn 2; 30 days 20 of 300.
    assert cache["burn_1h"] == pytest.approx(2.0)
    assert cache["budget_left"] == pytest.approx(1 - 20 / (0.1 * 300))

    accuracy = table.loc["accuracy"]
    # 150 right of 200 with an outcome: exactly the 75% promised, the whole budget spent, burn 1 over 3 days.
    assert accuracy["sli"] == pytest.approx(0.75)
    assert accuracy["budget_left"] == pytest.approx(0.0, abs=1e-12)
    assert accuracy["burn_3d"] == pytest.approx(1.0)
    assert np.isnan(accuracy["burn_1h"])  # a daily count says nothing about an hour


def test_the_budget_over_time_is_the_rolling_window_ending_at_each_bucket(db):
    frame = slo.budget_over_time(db, END - timedelta(hours=4), END, 3600)
    database = frame[frame["slo"] == "availability"].set_index("bucket")["budget_left"]
    # The hour ending at END - 2 h is before the outage; the one ending at END - 1 h holds all 30 bad samples,
    # of the 4,320 - 60 samples until then.
    assert database[END - timedelta(hours=3)] == 1.0
    assert database[END - timedelta(hours=2)] == pytest.approx(1 - 30 / (0.001 * 4260))
    assert database[END - timedelta(hours=1)] == pytest.approx(1 - 30 / 4.32)


def test_the_outage_fires_the_fast_burn_and_the_service_down_rules(db):
    rules = [r for r in load_rules(CONFIG.alert_rules) if r.name in ("slo_fast_burn", "service_down")]
    alerts = evaluate(db, rules, END - timedelta(hours=6), END)
    fired = {(a.rule.name, *a.labels.values()): a.periods for a in alerts if a.periods}
    (burn,) = fired[("slo_fast_burn", "availability", "database")]
    assert (burn.start, burn.end, burn.severity) == (END - timedelta(hours=2), END - timedelta(minutes=90), "critical")
    # The peak: the 5-minute bucket ending 30 minutes in, whose last hour holds 30 bad samples of 60.
    assert burn.peak == pytest.approx(30 / 60 / 0.001)
    (down,) = fired[("service_down", "database", "db-0")]
    assert (down.start, down.end) == (END - timedelta(hours=2), END - timedelta(minutes=90))


# -- a budget over less than its window: the data begins after the SLO window does ----------------------


def test_the_slo_table_marks_a_budget_partial_when_the_data_begins_after_the_window(db):
    table = slo.status_table(db, END).set_index("slo")
    # 30-day windows; service_metrics begins 3 days before END, predictions (and their outcomes) 2 days before.
    assert table["partial"].tolist() == [True] * 4
    assert table["data_days"].to_dict() == {"accuracy": 2.0, "availability": 3.0, "cache_hit_rate": 2.0, "latency": 2.0}
    figure = slo_table_figure(table.reset_index(), {})
    cells = dict(zip(figure.data[0].header.values, figure.data[0].cells.values, strict=True))
    assert all("partial window" in text for text in cells["Budget left"])
    assert f"{1 - 30 / 4.32:.1%} · partial window: 3.0 d of data" in cells["Budget left"]

    # Two-day windows: service_metrics reaches back past the window's start, predictions exactly to it.
    short = Database(replace(db.config, slo_window_days=2))
    full = slo.status_table(short, END).set_index("slo")
    assert not full["partial"].any() and full["data_days"].tolist() == [2.0] * 4
    cells = slo_table_figure(full.reset_index(), {}).data[0].cells.values
    assert not any("partial" in str(text) for column in cells for text in column)


def test_the_budget_over_time_is_partial_until_its_window_is_full_of_data_and_the_chart_shades_it(db):
    one_day = Database(replace(db.config, slo_window_days=1))
    frame = slo.budget_over_time(one_day, END - timedelta(days=3), END, 3600)
    database = frame[frame["slo"] == "availability"].set_index("bucket")
    # The window ending with the bucket from END - 2 d - 1 h is [END - 3 d, END - 2 d): the first one full of data.
    assert database.loc[: END - timedelta(days=2, hours=2), "partial"].all()
    assert not database.loc[END - timedelta(days=2, hours=1) :, "partial"].any()
    assert (database["data_from"] == pd.Timestamp(END - timedelta(days=3))).all()

    params = {"start": END - timedelta(days=3), "end": END, "bucket": 3600}
    figure = budget_figure(frame, params)
    shaded = {s.x0: s.x1 for s in figure.layout.shapes if s.type == "rect"}
    assert shaded[pd.Timestamp(END - timedelta(days=3))] == pd.Timestamp(END - timedelta(days=2, hours=1))
    texts = [a.text for a in figure.layout.annotations]
    assert "partial window: data from May 07 00:00 (Availability)" in texts
    # Predictions begin a day later: their objectives' windows fill a day later, in a shade of their own.
    assert shaded[pd.Timestamp(END - timedelta(days=2))] == pd.Timestamp(END - timedelta(days=1, hours=1))
