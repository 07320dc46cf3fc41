"""Text features' PSI on the reference's top K categories plus "other", and their distinct-value growth, rarefied:
the same numbers on the Drift page (compare), in its heatmap and in the alerts' metrics."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashapp.alerts.metrics import METRICS, Span
from dashapp.charts.drift import features_data
from dashapp.config import Config
from dashapp.db import Database
from dashapp.drift import stats
from dashapp.drift.engine import Window, compare, drift_over_time
from tests.fixtures import write_partitioned, write_single

DAY = datetime(2024, 3, 1)
ONE_DAY = Window(DAY, DAY + timedelta(days=1))
RNG = np.random.default_rng(11)
IDS = np.array([f"id{i:04d}" for i in range(2000)])
ZIPF = 1 / np.arange(1, 2001)  # a few prolific authors, a long tail of occasional ones


def ids(n: int, weights: np.ndarray = ZIPF) -> np.ndarray:
    return RNG.choice(IDS, n, p=weights / weights.sum())


def predictions(**features) -> pd.DataFrame:
    """Contract rows spread over DAY, one per value of the given feature columns."""
    n = len(next(iter(features.values())))
    ts = (pd.Timestamp(DAY) + np.arange(n) * (timedelta(days=1) / n)).astype("datetime64[us]")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "request_id": [f"r{i}" for i in range(n)],
            "symbol": "AAPL",
            "model_version": "v1",
            "sentiment_score": 0.0,
            "confidence": 0.5,
            "label": "neutral",
            "latency_ms": 10.0,
            "status": np.int32(200),
        }
    )
    return frame.assign(**features)


@pytest.fixture
def make_db(tmp_path):
    def make(current: pd.DataFrame, reference: pd.DataFrame, **settings) -> Database:
        data = tmp_path / "data"
        write_partitioned(data, "predictions", current)
        write_single(data, "reference", reference)
        return Database(Config.from_env(data_dir=data, cache_dir=tmp_path / "cache", **settings))

    return make


def full_tables(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts per category over every category of either sample, sorted: the bins PSI had before top K."""
    categories = sorted(set(reference) | set(current))
    ref, cur = pd.Series(reference).value_counts(), pd.Series(current).value_counts()
    return ref.reindex(categories, fill_value=0).to_numpy(), cur.reindex(categories, fill_value=0).to_numpy()


def test_a_feature_with_at_most_k_categories_keeps_its_psi_to_the_last_digit(make_db):
    reference = RNG.choice(["earnings", "macro", "product", "legal"], 3000, p=[0.4, 0.3, 0.2, 0.1])
    current = RNG.choice(["earnings", "macro", "product", "guidance"], 800, p=[0.2, 0.5, 0.2, 0.1])  # one new
    db = make_db(predictions(topic=current), pd.DataFrame({"topic": reference}))
    (topic,) = compare(db, ONE_DAY)
    assert topic.psi == pytest.approx(stats.psi(*full_tables(reference, current)), rel=0, abs=1e-12)
    assert [b["bin"] for b in topic.bins] == ["earnings", "guidance", "legal", "macro", "product"]


def test_a_stable_feature_of_2000_ids_is_no_longer_critical_and_a_real_shift_still_is(make_db):
    reference, stable = ids(4000), ids(4000)
    shifted = ids(4000, ZIPF[::-1])  # the long tail now writes most
    db = make_db(predictions(stable=stable, shifted=shifted), pd.DataFrame({"stable": reference, "shifted": reference}))
    results = {r.feature: r for r in compare(db, ONE_DAY)}
    # Over every id, thousands of bins clipped to 1e-4 on one side: what made a stable author_id read critical.
    assert stats.psi(*full_tables(reference, stable)) > 0.25
    assert results["stable"].psi < 0.1 and results["stable"].status == "ok"
    assert results["shifted"].psi > 0.25 and results["shifted"].status == "critical"
    bins = results["stable"].bins
    assert len(bins) == 51 and bins[-1]["bin"].startswith("(other: ")
    assert sum(b["reference_share"] for b in bins) == pytest.approx(1)


def test_k_is_a_setting_and_the_page_heatmap_and_alert_use_the_same_bins(make_db):
    sectors = np.array([f"sector{i:02d}" for i in range(20)])  # 20 categories: under the ID rule's 50
    reference = RNG.choice(sectors, 3000)
    current = RNG.choice(sectors, 1500, p=np.r_[np.full(10, 0.07), np.full(10, 0.03)])
    window = predictions(sector=current, author=ids(1500))
    baseline = pd.DataFrame({"sector": reference, "author": ids(3000)})
    db, few = make_db(window, baseline), make_db(window, baseline, drift_top_k=5)
    assert few.config.drift_top_k == 5
    default = {r.feature: r for r in compare(db, ONE_DAY)}
    page = {r.feature: r for r in compare(few, ONE_DAY)}
    assert len(page["sector"].bins) == 6 and len(default["sector"].bins) == 20
    assert page["sector"].psi != pytest.approx(default["sector"].psi)

    heatmap = drift_over_time(few, ONE_DAY, 86400).set_index("feature")
    alert = METRICS["drift.psi"].compute(few, Span(ONE_DAY.start, ONE_DAY.end, 86400)).set_index("feature")
    for feature in ("sector", "author"):
        assert heatmap.loc[feature, "psi_reference"] == pytest.approx(page[feature].psi, rel=1e-12)
    assert alert.loc["sector", "value"] == pytest.approx(page["sector"].psi, rel=1e-12)
    assert "author" not in alert.index  # IDs are the growth rule's business in the alerts, as before

    params = {"start": DAY, "end": ONE_DAY.end, "reference": "reference", "symbol": [], "model_version": None}
    notes = features_data(few, {**params, "sort": "severity"}).attrs["notes"]
    assert "categorical features: the reference's top 5 categories plus one 'other' bin" in notes


def test_cardinality_growth_is_the_rarefied_one_on_the_page_and_in_the_alert(make_db):
    reference = ids(1000)
    larger = ids(3000)  # three times the reference's rows, the same authors
    db = make_db(predictions(author=larger), pd.DataFrame({"author": reference}))
    (page,) = compare(db, ONE_DAY)
    (alert,) = METRICS["drift.cardinality_growth"].compute(db, Span(ONE_DAY.start, ONE_DAY.end, 86400))["value"]
    assert page.cardinality_growth == pytest.approx(alert, rel=1e-12)
    assert page.cardinality_growth == pytest.approx(stats.cardinality_growth(*full_tables(reference, larger)))
    plain = len(set(larger)) / len(set(reference))
    assert plain > 1.3 and page.cardinality_growth == pytest.approx(1, abs=0.1)  # more rows are not more authors
    assert page.status == "ok" and "distinct" not in page.rule
