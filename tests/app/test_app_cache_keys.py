"""Requests that differ in any input never share a cache entry (docs/reliability.md 19).

Each variant of one request is answered through a warm, shared cache and compared with the same
request computed from the files by a cacheless Database: a key that missed an input would hand a
variant its neighbour's answer.
"""

from __future__ import annotations

import pandas as pd
import pytest
from flask_caching.backends import FileSystemCache

from dashapp.charts import get_chart, render
from dashapp.db import Database
from tests.fixtures import new_partition

BASE = {"start": ["2024-03-01"], "end": ["2024-03-04"], "alerts": ["hide"]}
VARIANTS = {
    "range": {"start": ["2024-03-02"]},
    "end": {"end": ["2024-03-03T12:00"]},
    "bucket": {"bucket": ["1h"]},
    "coarser bucket": {"bucket": ["1d"]},
    "symbol": {"symbol": ["AAPL"]},
    "two symbols": {"symbol": ["AAPL", "MSFT"]},
    "model version": {"model_version": ["v2"]},
}
CHARTS = ("ops.throughput", "overview.volume", "sentiment.confusion", "ops.latency")


@pytest.fixture
def cached(config, tmp_path) -> Database:
    return Database(config, cache=FileSystemCache(str(tmp_path / "results"), default_timeout=0))


def answer(chart_id: str, args: dict, db: Database) -> pd.DataFrame:
    return render(get_chart(chart_id), args, db).data.reset_index(drop=True)


@pytest.mark.parametrize("chart_id", CHARTS)
def test_every_variant_gets_its_own_answer_through_a_shared_cache(chart_id, cached, db):
    known = {p.name for p in get_chart(chart_id).params}
    variants = {name: BASE | change for name, change in VARIANTS.items() if change.keys() <= known}
    answers = {}
    for name, args in {"base": BASE, **variants}.items():
        answers[name] = answer(chart_id, args, cached)  # each fills the cache the next ones read
    for name, args in {"base": BASE, **variants}.items():
        pd.testing.assert_frame_equal(answer(chart_id, args, cached), answer(chart_id, args, db), obj=name)
        pd.testing.assert_frame_equal(answers[name], answer(chart_id, args, db), obj=name)
    differing = [name for name in variants if not answers[name].equals(answers["base"])]
    assert differing, f"no variant changes {chart_id}'s answer on the fixture: the test would prove nothing"


def test_a_new_data_version_is_a_new_entry(cached, db, data_dir):
    args = BASE | {"end": ["2024-03-10"]}
    before = answer("ops.throughput", args, cached)
    new_partition(data_dir, "2024-03-05")
    after = answer("ops.throughput", args, cached)
    assert after["requests"].sum() == before["requests"].sum() + 1
    pd.testing.assert_frame_equal(after, answer("ops.throughput", args, db))
