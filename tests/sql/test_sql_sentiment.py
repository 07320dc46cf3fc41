"""queries/sentiment_*.sql: confusion counts per day, outcome partition, version, labels and confidence decile."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.fixtures import ALL, outcomes, predictions

NO_FILTER = {"symbol": [], "model_version": None}


def test_confusion_counts_equal_a_join_of_the_fixture_rows(db):
    frame = db.run("sentiment_confusion", **ALL, **NO_FILTER)
    p, o = predictions(), outcomes()
    joined = p.merge(o.rename(columns={"ts": "outcome_ts"}), on="request_id")
    joined = joined[joined["outcome_ts"].dt.normalize() >= joined["ts"].dt.normalize()]
    joined["confidence_bin"] = (joined["confidence"] * 10).astype(int).clip(upper=9)
    want = joined.groupby(["model_version", "label", "true_label", "confidence_bin"]).agg(
        n=("request_id", "size"), confidence_sum=("confidence", "sum")
    )
    got = frame.groupby(["model_version", "label", "true_label", "confidence_bin"])[["n", "confidence_sum"]].sum()
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_dtype=False, check_index_type=False)
    assert frame["n"].sum() == 7  # r01..r11 that have an outcome, as Overview's accuracy counts them
    assert list(frame.columns) == [
        "day", "later_day", "model_version", "label", "true_label", "confidence_bin", "n", "confidence_sum"
    ]  # fmt: skip


def test_a_confidence_of_one_falls_in_the_top_decile(db, data_dir):
    from tests.fixtures import write_partitioned

    row = predictions().iloc[[0]].assign(request_id="r99", confidence=1.0)
    write_partitioned(data_dir, "predictions", pd.concat([predictions(), row]))
    outcome = outcomes().iloc[[0]].assign(request_id="r99")
    write_partitioned(data_dir, "outcomes", pd.concat([outcomes(), outcome]))
    frame = db.run("sentiment_confusion", **ALL, **NO_FILTER)
    assert frame["confidence_bin"].max() == 9 and frame["confidence_bin"].min() >= 0


def test_daily_counts_and_sums_per_version_and_label(db):
    frame = db.run("sentiment_daily", **ALL, **NO_FILTER)
    p = predictions().assign(day=lambda f: f["ts"].dt.normalize())
    want = p.groupby(["day", "model_version", "label"]).agg(
        n=("request_id", "size"), score_sum=("sentiment_score", "sum"), confidence_sum=("confidence", "sum")
    )
    got = frame.set_index(["day", "model_version", "label"])[["n", "score_sum", "confidence_sum"]]
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_dtype=False, check_index_type=False)


def test_score_bands_are_exact_quantiles_per_bucket(db):
    frame = db.run("sentiment_score_bands", **ALL, **NO_FILTER, bucket=86400)
    p = predictions()
    for row in frame.itertuples():
        scores = p.loc[p["ts"].dt.normalize() == row.bucket, "sentiment_score"]
        want = scores.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
        assert [row.p5, row.p25, row.p50, row.p75, row.p95] == pytest.approx(want, abs=1e-12)
        assert row.n == len(scores)


def test_confidence_counts_per_version_and_twentieth(db):
    frame = db.run("sentiment_confidence", **ALL, **NO_FILTER)
    p = predictions()
    want = p.groupby(["model_version", (p["confidence"] * 20).astype(int).clip(upper=19)]).size()
    got = frame.set_index(["model_version", "confidence_bin"])["n"]
    assert got.sort_index().tolist() == want.sort_index().tolist()


def test_training_history_oldest_first(db):
    frame = db.run("sentiment_training")
    assert frame["run_id"].tolist() == ["t1", "t2", "t3"]
    assert list(frame.columns) == ["run_id", "model_version", "finished_at", "accuracy", "f1"]
