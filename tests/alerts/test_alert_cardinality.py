"""drift.cardinality_growth{feature}: distinct values per day against the reference's, at equal sample sizes."""

from __future__ import annotations

from datetime import datetime, timedelta
from math import comb

import numpy as np
import pandas as pd
import pytest
from cachelib import SimpleCache

from dashapp.alerts.metrics import METRICS, Span
from dashapp.config import Config
from dashapp.db import Database
from tests.fixtures import write_partitioned, write_single

START = datetime(2024, 3, 1)
RNG = np.random.default_rng(6)
AUTHORS = np.array([f"a{i:03d}" for i in range(150)])
WEIGHTS = 1 / np.arange(1, 151)  # a few prolific authors, many occasional ones
NEWCOMERS = np.array([f"n{i:03d}" for i in range(100)])


def authors(n: int) -> np.ndarray:
    return RNG.choice(AUTHORS, n, p=WEIGHTS / WEIGHTS.sum())


def predictions(days: list[np.ndarray]) -> pd.DataFrame:
    """Contract rows spread over one day per array of author ids; `topic` has three values (no growth measured)."""
    parts = []
    for number, author in enumerate(days):
        n = len(author)
        ts = pd.Timestamp(START + timedelta(days=number)) + np.arange(n) * (timedelta(days=1) / n)
        parts.append(pd.DataFrame({"ts": ts.astype("datetime64[us]"), "author": author}))
    frame = pd.concat(parts, ignore_index=True)
    n = len(frame)
    return frame.assign(
        request_id=[f"r{i}" for i in range(n)],
        symbol="AAPL",
        model_version="v1",
        sentiment_score=0.0,
        confidence=0.5,
        label="neutral",
        latency_ms=10.0,
        status=np.int32(200),
        topic=RNG.choice(["earnings", "macro", "legal"], n),
    )


def rarefied(counts: pd.Series, rows: int) -> float:
    """Expected distinct values in `rows` drawn without replacement, with exact binomial coefficients."""
    total = int(counts.sum())
    return sum(1 - comb(total - int(c), rows) / comb(total, rows) for c in counts)


@pytest.fixture(scope="module")
def days() -> list[np.ndarray]:
    return [
        authors(1000),  # as many rows as the reference
        authors(150),  # a quiet day: fewer rows, fewer distinct authors, the same population
        np.concatenate([authors(120), RNG.choice(NEWCOMERS, 120)]),  # new authors arrive
        authors(60),  # too few rows to judge (MIN_BUCKET_VALUES)
    ]


@pytest.fixture(scope="module")
def frames(tmp_path_factory, days) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(the metric's rows, the predictions, the reference) over the four days."""
    out = tmp_path_factory.mktemp("cardinality")
    current = predictions(days)
    reference = pd.DataFrame({"author": authors(1000), "topic": RNG.choice(["earnings", "macro", "legal"], 1000)})
    write_partitioned(out / "data", "predictions", current)
    write_single(out / "data", "reference", reference)
    db = Database(Config(data_dir=out / "data", cache_dir=out / "cache"), cache=SimpleCache())
    metric = METRICS["drift.cardinality_growth"].compute(db, Span(START, START + timedelta(days=4), 86400))
    return metric, current, reference


def test_cardinality_growth_equals_the_rarefied_ratio_of_distinct_values_computed_with_pandas(frames):
    metric, current, reference = frames
    base = reference["author"].value_counts()
    want = []
    for day, rows in current.groupby(current["ts"].dt.floor("1D")):
        counts = rows["author"].value_counts()
        if counts.sum() >= 100:
            size = min(int(counts.sum()), len(reference))
            want.append({"bucket": day, "feature": "author", "value": rarefied(counts, size) / rarefied(base, size)})
    assert len(want) == 3  # the thin fourth day has no value; `topic` (three values) is PSI's business
    values = metric[["bucket", "feature", "value"]]
    pd.testing.assert_frame_equal(values, pd.DataFrame(want), check_exact=False, rtol=1e-9, check_dtype=False)
    # Each value carries the decision the setting makes (DASHAPP_DRIFT_CARDINALITY_GROWTH).
    assert metric["status"].tolist() == ["warning" if v >= 1.3 else "ok" for v in metric["value"]]


def test_at_the_references_size_it_is_the_plain_ratio_and_a_quiet_day_does_not_look_like_shrinking(frames, days):
    metric, _, reference = frames
    values = metric["value"].tolist()
    plain = [len(set(day)) / reference["author"].nunique() for day in days]
    assert values[0] == pytest.approx(plain[0], rel=1e-9)  # 1,000 rows each: the drift engine's ratio
    assert plain[1] < 0.8 and values[1] == pytest.approx(1, abs=0.1)  # fewer rows, the same authors
    assert values[2] > 1.3  # half the day's rows from 100 newcomers
