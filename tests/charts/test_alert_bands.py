"""Alert bands on the charts over time, read from the alert store: the demo's incidents shade the equity curve and a
sentiment chart; each chart shades the rules that concern it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from cachelib import SimpleCache
from plotly.io.json import to_json_plotly

from dashapp import create_app, demo
from dashapp.alerts.rules import load_rules
from dashapp.alerts.store import open_store
from dashapp.charts import REGISTRY, get_chart, render
from dashapp.charts.themes import BAND_OPACITY, themed
from dashapp.config import Config
from dashapp.db import Database
from dashapp.runner import tick, worker_database
from tests.fixtures import chart_args

END = datetime(2024, 6, 28, 15, 30)
TL = demo.timeline(END, 30)
WEEK = {"start": [f"{END - timedelta(days=7):%Y-%m-%dT%H:%M}"], "end": [f"{END:%Y-%m-%dT%H:%M}"]}
PAPER = "paper-ppo-2.1-20240401"  # the paper run whose drawdown the demo stages
# Two rules, so that each band is one rule's period: the drift on one feature and the paper run's drawdown.
RULES = """
[[rule]]
name = "feature_drift"
metric = "drift.psi"
labels = { feature = "vix" }
comparison = ">"
critical = 0.25
bucket = "1d"
description = "d"
recommendation = "r"

[[rule]]
name = "agent_drawdown"
metric = "agent.drawdown"
comparison = "<"
critical = -0.2
bucket = "1d"
description = "d"
recommendation = "r"

[[rule]]
name = "latency_p95"
metric = "ops.latency_p95_ms"
comparison = ">"
critical = 1000
bucket = "1h"
description = "d"
recommendation = "r"
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Config:
    out = tmp_path_factory.mktemp("bands")
    demo.write_demo(out / "data", rows=50_000, days=30, seed=7, end=END)
    (out / "rules.toml").write_text(RULES)
    return Config(
        data_dir=out / "data", cache_dir=out / "cache", state_dir=out / "state", alert_rules=out / "rules.toml"
    )


def evaluate_at(config: Config, at: datetime) -> None:
    """Run the scheduler once as of `at` into the config's state store."""
    server, db = worker_database(config)
    with server.app_context():
        assert tick(db, load_rules(config.alert_rules), at, warm=False).evaluated


@pytest.fixture(scope="module")
def db(config) -> Database:
    evaluate_at(config, END)
    return Database(config, cache=SimpleCache())


def bands(rendered) -> dict[str, list[tuple]]:
    """The alert bands of a rendered figure: (x0, x1) by the alert they name, one per subplot."""
    found: dict[str, list[tuple]] = {}
    for shape in rendered.figure["layout"].get("shapes", ()):
        if shape.get("name", "").startswith("alert ") and shape["type"] == "rect":
            found.setdefault(shape["name"], []).append((shape["x0"], shape["x1"]))
    return found


def drawdown_period(config) -> tuple[datetime, datetime | None]:
    """The paper run's first stretch below -20% from its peak, from the returns file with pandas."""
    returns = pd.read_parquet(config.data_dir / "backtest_returns.parquet")
    returns = returns[returns["run_id"] == PAPER].set_index("ts")["strategy_return"].sort_index()
    wealth = (1 + returns).cumprod()
    drawdown = wealth / np.maximum(wealth.cummax(), 1.0) - 1  # the peak counts the starting 1.0 (QuantStats)
    below = drawdown < -0.2
    start = below.idxmax()
    after = below[start:]
    end = None if after.all() else (~after).idxmax()
    return pd.Timestamp(start).to_pydatetime(), end and pd.Timestamp(end).to_pydatetime()


def test_the_equity_curve_shades_the_paper_runs_drawdown_where_pandas_finds_it(db, config):
    rendered = render(get_chart("backtest.cumulative"), {"run": [PAPER]}, db)
    last_day = pd.Timestamp(rendered.data["ts"].max()).to_pydatetime()
    start, end = drawdown_period(config)
    assert TL.drawdown_start <= start.date() <= TL.drawdown_end
    # A period still firing at the run's last day ends at the chart's right edge.
    assert bands(rendered)[f"alert critical: agent_drawdown {PAPER}"] == [(start, end or last_day)]
    lines = [s for s in rendered.figure["layout"]["shapes"] if s["type"] == "line" and "agent_drawdown" in s["name"]]
    assert [(line["x0"], line["x1"]) for line in lines] == [(start, start)]  # a dotted line where it began
    assert not any(note.startswith("alert history is kept") for note in rendered.notes)  # 64 days: all kept
    assert rendered.notes[-1] == f"alert states as of {END:%Y-%m-%d %H:%M} UTC"


def test_a_sentiment_chart_shades_the_drift_from_its_first_day_to_the_windows_end(db, config):
    rendered = render(get_chart("sentiment.labels"), WEEK, db)
    alerts = open_store(config).load().alerts(load_rules(config.alert_rules))
    (period,) = next(a for a in alerts if a.rule.name == "feature_drift").periods
    assert period.end is None  # still drifting at the demo's end
    assert TL.drift_start.date() <= period.start.date() <= TL.drift_start.date() + timedelta(days=1)
    assert bands(rendered)["alert critical: feature_drift vix"] == [(period.start, END)]
    label = next(a for a in rendered.figure["layout"]["annotations"] if a["text"] == "✖ feature_drift")
    assert label["hovertext"] == f"feature_drift vix<br>critical · {period.start:%b %d} → still firing"


def test_a_stacked_chart_gets_the_band_in_each_of_its_subplots(db):
    rendered = render(get_chart("sentiment.accuracy"), WEEK, db)
    shapes = [s for s in rendered.figure["layout"]["shapes"] if s["name"] == "alert critical: feature_drift vix"]
    shapes = [s for s in shapes if s["type"] == "rect"]
    assert sorted((s["xref"], s["yref"]) for s in shapes) == [("x", "y domain"), ("x2", "y2 domain")]


def test_only_the_charts_over_time_take_the_bands_and_their_parameter(db):
    confusion = render(get_chart("sentiment.confusion"), WEEK, db)
    assert bands(confusion) == {} and "alerts" not in {p.name for p in confusion.spec.params}
    over_time = {chart_id for chart_id, spec in REGISTRY.items() if spec.time_axis}
    assert {"backtest.cumulative", "sentiment.labels", "ops.latency", "overview.volume"} <= over_time
    assert not over_time & {"alerts.timeline", "drift.heatmap", "sentiment.confidence", "backtest.monthly"}
    assert all("alerts" in {p.name for p in REGISTRY[chart_id].params} for chart_id in over_time)


@pytest.mark.parametrize("chart_id", sorted(c for c, spec in REGISTRY.items() if spec.time_axis))
def test_every_chart_over_time_names_a_time_column_of_its_data(shared_db, chart_id):
    spec = get_chart(chart_id)
    rendered = render(spec, {**chart_args(chart_id), "alerts": ["hide"]}, shared_db)
    assert pd.api.types.is_datetime64_any_dtype(pd.to_datetime(rendered.data[spec.time_axis]))


def test_alerts_hide_leaves_the_chart_as_cached(db):
    shown = render(get_chart("sentiment.labels"), WEEK, db)
    hidden = render(get_chart("sentiment.labels"), {**WEEK, "alerts": ["hide"]}, db)
    assert bands(shown) and bands(hidden) == {}
    assert hidden.figure["layout"].get("annotations", []) == []
    # One cached figure: the bands went on a copy.
    assert to_json_plotly(hidden.figure["data"]) == to_json_plotly(shown.figure["data"])


def test_a_band_costs_no_evaluation_and_no_cache_read_of_its_own(db, monkeypatch):
    render(get_chart("backtest.drawdown"), {"run": [PAPER]}, db)
    reads = []
    get = db._cache_get
    monkeypatch.setattr(db, "_cache_get", lambda key: reads.append(key) or get(key))
    monkeypatch.setattr("dashapp.alerts.evaluate.run_rule", lambda *args: pytest.fail("evaluated on a page"))
    again = render(get_chart("backtest.drawdown"), {"run": [PAPER]}, db)
    assert bands(again)
    assert [key for key in reads if key.startswith("m:")] == [next(k for k in reads if k.startswith("m:chart."))]


def test_a_long_backtest_is_shaded_over_the_kept_history_only_and_says_so(db, config):
    rendered = render(get_chart("backtest.cumulative"), {}, db)  # each version's 3-year backtest
    assert f"alert history is kept for {config.alert_history_days} days" in rendered.notes
    kept_from = END - timedelta(days=config.alert_history_days)
    assert all(x0 >= kept_from for spans in bands(rendered).values() for x0, _ in spans)


def test_each_chart_shades_the_rules_about_it_and_alerts_all_shades_every_rule(db):
    spike = {"start": [f"{TL.spike_start - timedelta(hours=6):%Y-%m-%dT%H:%M}"], "end": [f"{END:%Y-%m-%dT%H:%M}"]}
    latency = render(get_chart("ops.latency"), spike, db)  # Operations: serving, not drift nor the agent
    assert {name.split()[2] for name in bands(latency)} == {"latency_p95"}
    volume = render(get_chart("overview.volume"), spike, db)  # the Overview: every rule on predictions
    assert {name.split()[2] for name in bands(volume)} == {"latency_p95", "feature_drift"}
    equity = render(get_chart("backtest.cumulative"), {"run": [PAPER]}, db)  # the agent, and drift upstream
    assert {name.split()[2] for name in bands(equity)} == {"agent_drawdown", "feature_drift"}
    every = render(get_chart("backtest.cumulative"), {"run": [PAPER], "alerts": ["all"]}, db)
    assert {name.split()[2] for name in bands(every)} == {"agent_drawdown", "feature_drift", "latency_p95"}
    legend = [s["name"] for s in equity.figure["layout"]["shapes"] if s.get("showlegend")]
    assert legend == ["critical alert: agent_drawdown, feature_drift"]
    assert any(note.startswith("shaded: ") and "alerts=all for every rule" in note for note in equity.notes)


def test_a_rule_whose_table_is_missing_draws_no_band_and_the_chart_still_draws(config, tmp_path):
    data = shutil.copytree(config.data_dir, tmp_path / "data")
    (data / "reference.parquet").unlink()  # drift.psi compares with it
    broken = replace(config, data_dir=data, cache_dir=tmp_path / "cache", state_dir=tmp_path / "state")
    evaluate_at(broken, END)
    db = Database(broken, cache=SimpleCache())
    rendered = render(get_chart("sentiment.labels"), {**WEEK, "alerts": ["all"]}, db)
    assert rendered.figure["data"] and list(bands(rendered)) == [f"alert critical: agent_drawdown {PAPER}"]


def test_the_api_answers_the_bands_in_json_and_names_a_bad_alerts_value(db, config):
    client = create_app(config).server.test_client()
    url = f"/api/charts/backtest.cumulative?format=json&run={PAPER}"
    shapes = client.get(url).get_json()["figure"]["layout"]["shapes"]
    assert {s["name"] for s in shapes if s["name"].startswith("alert ")} == {
        f"alert critical: agent_drawdown {PAPER}",
        "alert critical: feature_drift vix",
    }
    assert "shapes" not in client.get(url + "&alerts=hide").get_json()["figure"]["layout"]
    answer = client.get(url + "&alerts=maybe")
    assert answer.status_code == 400 and answer.get_json()["param"] == "alerts"


def test_the_alerts_page_gives_the_true_since_even_when_it_lies_before_the_window(db, config):
    """ "since" says when an alert began, not the window's first day: now, and at an earlier window's end."""
    day = {"start": [f"{END - timedelta(days=1):%Y-%m-%dT%H:%M}"], "end": [f"{END:%Y-%m-%dT%H:%M}"]}
    now = render(get_chart("alerts.current"), day, db).data.set_index("rule").loc["feature_drift"]
    assert now["state"] == "firing" and datetime.fromisoformat(now["since"]).date() == TL.drift_start.date()
    start, _ = drawdown_period(config)  # below -20% from its peak for weeks before this earlier week's end
    before = {"start": ["2024-06-13"], "end": ["2024-06-20"]}
    then = render(get_chart("alerts.current"), before, db).data.set_index("rule").loc["agent_drawdown"]
    assert then["state"] == "firing" and datetime.fromisoformat(then["since"]) == start


def test_dark_alert_bands_keep_their_hue_drawn_stronger(db):
    figure = render(get_chart("sentiment.labels"), WEEK, db).figure
    bands = [s for s in figure["layout"]["shapes"] if s["type"] == "rect" and not s.get("showlegend")]
    assert bands and {s["opacity"] for s in bands} == {BAND_OPACITY["light"]}
    dark = [s for s in themed(figure, "dark")["layout"]["shapes"] if s["type"] == "rect" and not s.get("showlegend")]
    assert {s["opacity"] for s in dark} == {BAND_OPACITY["dark"]}
    assert [s["fillcolor"] for s in dark] == [s["fillcolor"] for s in bands]  # the strong colour, not a tint
    labels = themed(figure, "dark")["layout"]["annotations"]
    assert all(a["bgcolor"] != "rgba(255, 255, 255, 0.8)" for a in labels if "bgcolor" in a)
