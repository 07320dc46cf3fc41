"""The Sentiment page's outcome join against the naive way, 7 days of the 10M demo (run by hand).

    .venv/bin/python tests/bench/bench_outcome_join.py            # both approaches, each in its own process

dashapp: queries/sentiment_confusion.sql on a Database without a cache (one query, no day slices).
pandas: read the predictions and outcomes partitions of the window (columns pruned, dt filter),
merge on request_id, keep outcomes filed on or after the prediction's day, group by version and
labels. Each prints its total count, which must agree. Median of 5 after a warm-up;
peak RSS is the process's.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "bench-10000000"


def dashapp_counts():
    sys.path.insert(0, str(REPO))
    from dashapp.config import Config
    from dashapp.db import Database

    db = Database(Config(data_dir=DATA, cache_dir=Path("/tmp/dashapp-bench-outcomes")), cache=None)
    end = db.data_through("predictions")
    start = end - timedelta(days=7)

    def once():
        frame = db.run("sentiment_confusion", start=start, end=end, symbol=[], model_version=None)
        return frame.groupby(["model_version", "label", "true_label"])["n"].sum()

    return once


def pandas_counts():
    import duckdb
    import pandas as pd

    end = pd.Timestamp(duckdb.sql(f"SELECT max(ts) FROM '{DATA}/predictions/*/*.parquet'").fetchall()[0][0])
    start = end - pd.Timedelta(days=7)
    since = [("dt", ">=", str(start.date()))]

    def once():
        columns = ["ts", "request_id", "model_version", "label", "confidence"]
        predictions = pd.read_parquet(DATA / "predictions", columns=columns, filters=since)
        predictions = predictions[(predictions["ts"] >= start) & (predictions["ts"] < end)]
        outcomes = pd.read_parquet(DATA / "outcomes", columns=["request_id", "true_label", "dt"], filters=since)
        joined = predictions.merge(outcomes, on="request_id")
        joined = joined[pd.to_datetime(joined["dt"].astype(str)) >= joined["ts"].dt.normalize()]
        return joined.groupby(["model_version", "label", "true_label"]).size()

    return once


def measure(kind: str) -> None:
    once = {"dashapp": dashapp_counts, "pandas": pandas_counts}[kind]()
    result = once()
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        result = once()
        samples.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {kind} | {statistics.median(samples) * 1000:.0f} ms | {peak:.0f} MiB | {int(result.sum()):,} |")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        measure(sys.argv[1])
    else:
        print("| approach | median | peak RSS | predictions with an outcome |\n|---|---|---|---|", flush=True)
        for kind in ("dashapp", "pandas"):
            subprocess.run([sys.executable, __file__, kind], check=True)
