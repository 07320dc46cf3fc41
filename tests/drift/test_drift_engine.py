"""dashapp/drift/engine.py over real parquet: features found from the schema, scipy's numbers, clear statuses."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dashapp.config import Config
from dashapp.db import Database
from dashapp.drift.engine import DriftRule, Window, compare, feature_kinds, prediction_drift
from tests.fixtures import write_partitioned, write_single

START, END = datetime(2024, 3, 1), datetime(2024, 3, 3)
RNG = np.random.default_rng(3)
N = 400


def predictions(**features) -> pd.DataFrame:
    """N predictions over START..END with the contract's columns and the given feature columns."""
    ts = (pd.Timestamp(START) + np.arange(N) * ((END - START) / N)).astype("datetime64[us]")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "request_id": [f"r{i}" for i in range(N)],
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
    def make(current: pd.DataFrame, reference: pd.DataFrame | None) -> Database:
        data = tmp_path / "data"
        write_partitioned(data, "predictions", current)
        if reference is not None:
            write_single(data, "reference", reference)
        return Database(Config.from_env(data_dir=data, cache_dir=tmp_path / "cache"))

    return make


def by_feature(results) -> dict:
    return {r.feature: r for r in results}


def test_numeric_and_categorical_features_match_scipy(make_db):
    words = RNG.poisson(12, N).astype(float)
    words[::17] = np.nan  # NULLs are left out of the tests and counted
    ref_words = RNG.poisson(10, 3 * N).astype(float)
    topic = RNG.choice(["earnings", "macro", "product"], N, p=[0.2, 0.5, 0.3])
    ref_topic = RNG.choice(["earnings", "macro", "product", "legal"], 3 * N, p=[0.4, 0.3, 0.2, 0.1])
    db = make_db(
        predictions(words=words, topic=topic),
        pd.DataFrame({"words": ref_words, "topic": ref_topic, "label": "neutral", "sentiment_score": 0.0}),
    )
    results = by_feature(compare(db, Window(START, END)))
    assert set(results) == {"words", "topic"}

    w = results["words"]
    present = words[~np.isnan(words)]
    expected = stats.ks_2samp(ref_words, present, method="asymp")
    assert (w.kind, w.n_current, w.nulls_current, w.n_reference) == ("numeric", len(present), N - len(present), 3 * N)
    assert w.ks_statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert w.ks_pvalue == pytest.approx(expected.pvalue, rel=1e-6)
    assert w.wasserstein == pytest.approx(stats.wasserstein_distance(ref_words, present), abs=1e-9)
    assert w.psi == pytest.approx(sum(b["psi_contribution"] for b in w.bins))
    assert sum(b["reference_share"] for b in w.bins) == pytest.approx(1.0, abs=1e-3)

    t = results["topic"]
    categories = ["earnings", "legal", "macro", "product"]
    table = np.array([[np.sum(ref_topic == c) for c in categories], [np.sum(topic == c) for c in categories]])
    chi2 = stats.chi2_contingency(table)
    assert t.kind == "categorical"
    assert t.chi2_statistic == pytest.approx(chi2.statistic, rel=1e-12)
    assert t.chi2_pvalue == pytest.approx(chi2.pvalue, rel=1e-6)
    assert [b["bin"] for b in t.bins] == categories
    assert t.cardinality_growth == 3 / 4


def test_the_decision_names_the_rule_that_decided():
    rule = DriftRule()
    assert rule.decide(0.3, None) == ("critical", "PSI 0.300 ≥ 0.25")
    assert rule.decide(0.12, None) == ("warning", "PSI 0.120 ≥ 0.1")
    assert rule.decide(0.01, 2.0, baseline_distinct=500)[0] == "warning"
    assert rule.decide(0.01, 2.0, baseline_distinct=3)[0] == "ok"  # a new category among three is PSI's call


def test_a_shifted_feature_is_critical_and_a_stable_one_ok(make_db):
    db = make_db(
        predictions(shifted=RNG.normal(3, 1, N), stable=RNG.normal(0, 1, N)),
        pd.DataFrame(
            {"shifted": RNG.normal(0, 1, N), "stable": RNG.normal(0, 1, N), "label": "neutral", "sentiment_score": 0.0}
        ),
    )
    results = by_feature(compare(db, Window(START, END)))
    assert results["shifted"].status == "critical"
    assert results["stable"].status == "ok"


def test_bad_inputs_give_a_status_per_feature_never_an_exception(make_db):
    current = predictions(
        all_null=pd.Series([None] * N, dtype="float64"),
        constant=np.full(N, 5.0),
        not_in_reference=RNG.normal(0, 1, N),
        type_changed=RNG.normal(0, 1, N),
    )
    reference = pd.DataFrame(
        {
            "all_null": RNG.normal(0, 1, 50),
            "constant": np.full(50, 5.0),
            "type_changed": ["a"] * 50,
            "label": "neutral",
            "sentiment_score": 0.0,
        }
    )
    results = by_feature(compare(make_db(current, reference), Window(START, END)))
    assert (results["all_null"].status, results["all_null"].rule) == ("no data", "no non-NULL values in this window")
    assert results["all_null"].nulls_current == N
    assert (results["constant"].status, results["constant"].psi, results["constant"].ks_statistic) == ("ok", 0.0, 0.0)
    assert results["not_in_reference"].status == "skipped"
    assert "no such column" in results["not_in_reference"].rule
    assert results["type_changed"].status == "skipped"
    assert "DOUBLE now, VARCHAR in the reference" in results["type_changed"].rule


def test_an_empty_window_is_no_data_for_every_feature(make_db):
    db = make_db(
        predictions(words=RNG.normal(0, 1, N)), pd.DataFrame({"words": [1.0], "label": "x", "sentiment_score": 0.0})
    )
    results = compare(db, Window(datetime(2025, 1, 1), datetime(2025, 1, 8)))
    assert [(r.feature, r.status, r.n_current) for r in results] == [("words", "no data", 0)]


def test_the_previous_window_is_a_baseline_without_a_reference_table(make_db):
    later = predictions(words=RNG.normal(2, 1, N)).assign(ts=lambda f: f["ts"] + pd.Timedelta(days=2))
    both = pd.concat([predictions(words=RNG.normal(0, 1, N)), later], ignore_index=True)
    results = compare(make_db(both, None), Window(datetime(2024, 3, 3), datetime(2024, 3, 5), baseline="previous"))
    assert [(r.feature, r.n_reference, r.n_current, r.status) for r in results] == [("words", N, N, "critical")]


def test_features_are_every_column_outside_the_contract_by_type():
    kinds = feature_kinds(
        {"ts": "TIMESTAMP", "label": "VARCHAR", "dt": "DATE", "vix": "DOUBLE", "lang": "VARCHAR", "n": "INTEGER",
         "flag": "BOOLEAN", "emb": "FLOAT[]"}
    )  # fmt: skip
    assert kinds == {
        "vix": "numeric",
        "lang": "categorical",
        "n": "numeric",
        "flag": "categorical",
        "emb": "unsupported (FLOAT[])",
    }


def test_prediction_drift_tests_the_label_mix_by_kl_and_the_score_numerically(make_db):
    labels = RNG.choice(["negative", "neutral", "positive"], N, p=[0.6, 0.2, 0.2])
    current = predictions().assign(label=labels, sentiment_score=RNG.normal(-0.3, 0.3, N))
    ref_labels = RNG.choice(["negative", "neutral", "positive"], N, p=[0.3, 0.4, 0.3])
    reference = pd.DataFrame({"label": ref_labels, "sentiment_score": RNG.normal(0, 0.3, N)})
    label, score = prediction_drift(make_db(current, reference), Window(START, END))
    cur = np.array([np.sum(labels == c) for c in ("negative", "neutral", "positive")]) / N
    ref = np.array([np.sum(ref_labels == c) for c in ("negative", "neutral", "positive")]) / N
    assert label.kl_divergence == pytest.approx(stats.entropy(cur, ref), rel=1e-12)
    assert (label.status, label.rule) == ("warning", f"KL {label.kl_divergence:.3f} ≥ 0.15")
    assert score.kind == "numeric" and score.status == "critical"
    assert score.ks_statistic == pytest.approx(
        stats.ks_2samp(reference["sentiment_score"], current["sentiment_score"]).statistic
    )


def test_a_window_rejects_an_unknown_baseline():
    with pytest.raises(ValueError, match="reference, previous"):
        Window(START, END, baseline="yesterday")


def test_a_cached_comparison_and_prediction_drift_run_no_query_and_new_data_recomputes_them(make_db, tmp_path):
    from flask_caching.backends import FileSystemCache

    reference = pd.DataFrame({"words": RNG.normal(0, 1, N), "label": "neutral", "sentiment_score": 0.0})
    plain = make_db(predictions(words=RNG.normal(0, 1, N)), reference)
    db = Database(plain.config, cache=FileSystemCache(str(tmp_path / "memo"), default_timeout=0))
    first, outputs = compare(db, Window(START, END)), prediction_drift(db, Window(START, END))
    executed = []
    db._execute = lambda *args: executed.append(args) or pytest.fail("a cached comparison ran a query")
    assert [r.to_dict() for r in compare(db, Window(START, END))] == [r.to_dict() for r in first]
    assert [r.to_dict() for r in prediction_drift(db, Window(START, END))] == [r.to_dict() for r in outputs]
    pd.DataFrame({"words": RNG.normal(3, 1, N)}).to_parquet(plain.config.data_dir / "reference.parquet")
    del db._execute
    (moved,) = compare(db, Window(START, END))
    assert moved.status == "critical" and first[0].status == "ok"


def test_drift_over_time_gives_psi_per_bucket_against_both_baselines(make_db):
    from dashapp.drift import stats as drift_stats
    from dashapp.drift.engine import MIN_BUCKET_VALUES, drift_over_time

    day1, day2 = RNG.normal(0, 1, N // 2), RNG.normal(2, 1, N // 2)
    ref = RNG.normal(0, 1, N)
    db = make_db(predictions(words=np.concatenate([day1, day2])), pd.DataFrame({"words": ref}))
    frame = drift_over_time(db, Window(START, END), 86400)
    assert frame["bucket"].tolist() == [pd.Timestamp(START), pd.Timestamp(2024, 3, 2)]
    assert frame["n"].tolist() == [N // 2, N // 2] and N // 2 >= MIN_BUCKET_VALUES
    edges = np.unique(np.quantile(ref, drift_stats.DECILES))

    def counts(x):
        return np.bincount(np.digitize(x, edges, right=True), minlength=len(edges) + 1)

    assert frame["psi_reference"].tolist() == pytest.approx(
        [drift_stats.psi(counts(ref), counts(day1)), drift_stats.psi(counts(ref), counts(day2))]
    )
    assert frame["psi_previous"].isna().tolist() == [True, False]
    assert frame["psi_previous"].iloc[1] == pytest.approx(drift_stats.psi(counts(day1), counts(day2)))


def test_the_thresholds_come_from_the_config(make_db, tmp_path):
    from dashapp.config import Config

    plain = make_db(predictions(words=RNG.normal(0.4, 1, N)), pd.DataFrame({"words": RNG.normal(0, 1, N)}))
    (default,) = compare(plain, Window(START, END))
    strict = Database(Config.from_env(data_dir=plain.config.data_dir, drift_psi_warning=0.01, drift_psi_critical=0.02))
    (strictly,) = compare(strict, Window(START, END))
    assert default.psi == strictly.psi and 0.02 < default.psi < 0.25
    assert (default.status, strictly.status) == ("ok" if default.psi < 0.1 else "warning", "critical")
    assert strictly.rule == f"PSI {default.psi:.3f} ≥ 0.02"


def test_nan_values_count_as_missing_as_pandas_dropna_has_it(make_db):
    import pyarrow as pa
    import pyarrow.parquet as pq

    current = RNG.normal(0, 1, N)
    db = make_db(predictions(words=current), pd.DataFrame({"words": [0.0]}))
    # Written by arrow, so NaN stays a NaN beside a real NULL (pandas would turn it into a NULL).
    values = [-1.0, 0.5, float("nan"), None, 2.0, 0.5]
    pq.write_table(pa.table({"words": pa.array(values, from_pandas=False)}), db.config.data_dir / "reference.parquet")
    (words,) = compare(db, Window(START, END))
    present = [-1.0, 0.5, 2.0, 0.5]
    assert (words.n_reference, words.nulls_reference) == (4, 2)
    assert words.ks_statistic == pytest.approx(stats.ks_2samp(present, current).statistic, abs=1e-9)
    assert words.wasserstein == pytest.approx(stats.wasserstein_distance(present, current), abs=1e-9)


def test_a_boolean_feature_over_time_uses_the_references_categories(make_db):
    from dashapp.drift.engine import drift_over_time

    flags = np.arange(N) % 4 == 0  # a quarter True, as in the reference
    db = make_db(predictions(flag=flags), pd.DataFrame({"flag": [True, False, False, False] * 50}))
    frame = drift_over_time(db, Window(START, END), 86400)
    assert frame["psi_reference"].tolist() == pytest.approx([0.0, 0.0], abs=1e-12)


def test_a_bucket_with_no_value_above_the_top_edge_still_has_every_bin(make_db):
    """DuckDB's histogram() lists the overflow bin only when a value falls in it."""
    from dashapp.drift import stats as drift_stats
    from dashapp.drift.engine import drift_over_time

    tickers = np.where(np.arange(N) < N // 2, 5.0, 1.0)  # day two never exceeds the reference's top edge, 3
    reference = pd.DataFrame({"tickers": np.tile([1.0, 2.0, 3.0], 100)})
    frame = drift_over_time(make_db(predictions(tickers=tickers), reference), Window(START, END), 86400)
    edges = np.unique(np.quantile(reference["tickers"], drift_stats.DECILES))
    day2 = drift_stats.bin_counts(np.array([1.0]), np.array([N // 2]), edges)
    assert len(day2) == len(edges) + 1 and day2[-1] == 0
    assert frame["psi_reference"].iloc[1] == pytest.approx(drift_stats.psi(np.array([100.0, 100, 100, 0]), day2))


def test_prediction_drift_against_a_reference_without_the_models_outputs_names_the_table(make_db):
    from dashapp.errors import DataUnavailable

    db = make_db(predictions(words=RNG.normal(0, 1, N)), pd.DataFrame({"words": RNG.normal(0, 1, N)}))
    with pytest.raises(DataUnavailable, match=r"reference: lacks required columns \['label', 'sentiment_score'\]"):
        prediction_drift(db, Window(START, END))
    assert compare(db, Window(START, END))[0].status == "ok"  # the feature comparison still works
