"""Alert evaluation: every configured rule over 30 days of the 10M demo, against the naive way (run by hand).

    .venv/bin/python tests/bench/bench_alerts.py [--data data/bench-10000000] [--days 30] [--repeat 5]

Each approach runs in its own process, so its peak RSS is its own.

dashapp: `evaluate(db, rules, end - days, end)` through create_app's FileSystemCache, as the
portal, `/api/alerts`, `/metrics` and `dashapp alerts` call it, per rule and in total:
- cold: the results cache emptied before each run (the DuckDB connection and its views kept);
- moved: the evaluation instant 15 minutes earlier each run, no new file (past days cached);
- new data: the newest predictions and outcomes partitions rewritten before each run, same instant;
- cron: both, as a cron job every 15 minutes meets it (instant moved, a new file arrived);
- cached: nothing changed.
pandas: read the window's partitions of predictions and outcomes (columns pruned, dt filter) and
the reference, then compute the metrics of the rules that read them (latency p95, error rate, cache
hit rate, canary share, accuracy, label KL, PSI per feature, freshness of predictions and
outcomes) per bucket. The small tables (pipeline runs, backtests) are left out: both ways read
them whole. The pandas values are checked against dashapp's metrics (same buckets, 1e-9) first.

The live runs bump the mtime of the newest partition files (nothing else changes). Times are
medians (p95 with --repeat >= 5) after a warm-up; other jobs on the machine add noise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench_queries import touch_newest_partitions  # the same "new data today" as the page benchmark

REPO = Path(__file__).resolve().parents[2]
RESULT = "BENCH-RESULT "
STEP = timedelta(minutes=15)  # the finest rule bucket: how often a cron job would evaluate
CHECKED = (  # metric -> bucket its default rule evaluates it on
    ("ops.latency_p95_ms", 900),
    ("ops.error_rate", 900),
    ("ops.cache_hit_rate", 900),
    ("ab.canary_share", 900),
    ("model.accuracy", 86400),
    ("prediction.label_kl", 86400),
    ("drift.psi", 86400),
    ("data.freshness_minutes", 900),
)
FRESHNESS_TABLES = ("predictions", "outcomes")  # the big ones; market and pipeline_runs are read whole both ways
EPOCH = datetime(1970, 1, 1)


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(samples), "p95": p95 if len(samples) >= 5 else None}


def _floor(moment: datetime, seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=(moment - EPOCH).total_seconds() // seconds * seconds)


def _end_of_data(data: Path) -> datetime:
    """The evaluation instant: the quarter hour after the newest prediction (naive UTC, like the data)."""
    import duckdb

    newest = max((data / "predictions").glob("dt=*"))
    last = duckdb.sql(f"SELECT max(ts) FROM read_parquet('{newest}/*.parquet')").fetchall()[0][0]
    return _floor(last, 900) + STEP


# -- dashapp ------------------------------------------------------------------------------------


def work_dashapp(data: Path, days: int, repeat: int, end: datetime) -> dict:
    sys.path.insert(0, str(REPO))
    from dashapp import create_app
    from dashapp.alerts.evaluate import evaluate
    from dashapp.alerts.metrics import METRICS, Span
    from dashapp.alerts.rules import configured_rules
    from dashapp.config import Config

    scratch = Path(tempfile.mkdtemp(prefix="dashapp-bench-alerts-"))
    config = Config.from_env(data_dir=data, cache_dir=scratch)
    app = create_app(config)
    rules = configured_rules(config)
    window = timedelta(days=days)
    out: dict = {"rules": [r.name for r in rules], "threads": config.duckdb_threads}

    def run(at: datetime) -> dict[str, float]:
        return {r.name: _timed(lambda r=r: evaluate(db, [r], at - window, at)) for r in rules}

    with app.server.app_context():
        db = app.server.extensions["dashapp"].db
        run(end)  # warm-up: connection, views, imports
        modes: dict[str, list[dict[str, float]]] = {"cold": [], "moved": [], "new data": [], "cron": [], "cached": []}
        for _ in range(repeat):
            db.cache.clear()
            modes["cold"].append(run(end))
        for i in range(1, repeat + 1):
            modes["moved"].append(run(end - i * STEP))
        run(end)
        for _ in range(repeat):
            touch_newest_partitions(data)
            modes["new data"].append(run(end))
        for i in range(repeat, 0, -1):
            touch_newest_partitions(data)
            modes["cron"].append(run(end - (i - 1) * STEP))
        for _ in range(repeat):
            modes["cached"].append(run(end))
        out["modes"] = {
            mode: {
                "total": _summary([sum(s.values()) for s in samples]),
                "rules": {r: statistics.median(s[r] for s in samples) for r in out["rules"]},
            }
            for mode, samples in modes.items()
        }
        values = {}
        for metric, bucket in CHECKED:
            frame = METRICS[metric].compute(db, Span(_first(end, days, bucket), end, bucket))
            if "table" in frame:
                frame = frame[frame["table"].isin(FRESHNESS_TABLES)]
            values[metric] = _records(frame)
        out["values"] = values
    shutil.rmtree(scratch, ignore_errors=True)
    return out


def _first(end: datetime, days: int, bucket: int) -> datetime:
    """Where a rule's buckets begin: the bucket that holds `end - days` (evaluate.py)."""
    return _floor(end - timedelta(days=days), bucket)


def _records(frame) -> list[list]:
    """Rows as [bucket ISO, labels..., value], sorted: the form both workers report."""
    rows = [[str(row[0])[:19].replace(" ", "T"), *map(str, row[1:-1]), float(row[-1])] for row in frame.to_numpy()]
    return sorted(rows)


# -- pandas -------------------------------------------------------------------------------------


def work_pandas(data: Path, days: int, repeat: int, end: datetime) -> dict:
    samples, values = [], None
    for _ in range(repeat + 1):  # the first is the warm-up
        started = time.perf_counter()
        values = pandas_metrics(data, days, end)
        samples.append(time.perf_counter() - started)
    return {"total": _summary(samples[1:]), "values": values}


def pandas_metrics(data: Path, days: int, end: datetime) -> dict[str, list[list]]:
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(REPO))
    from dashapp.contract import TABLES
    from dashapp.drift.stats import DECILES, kl_divergence, psi

    first, quarter = pd.Timestamp(_first(end, days, 86400)), pd.Timestamp(_first(end, days, 900))
    end = pd.Timestamp(end)
    since = [("dt", ">=", str(first.date()))]
    fixed = [c.name for c in TABLES["predictions"].required + TABLES["predictions"].optional]
    p = pd.read_parquet(data / "predictions", filters=since)  # every column: the features are the extra ones
    p = p[(p["ts"] >= first) & (p["ts"] < end)]
    o = pd.read_parquet(data / "outcomes", columns=["request_id", "ts", "true_label", "dt"], filters=since)
    reference = pd.read_parquet(data / "reference.parquet")
    out = {}

    def rows(frame: pd.DataFrame, labels: list[str]) -> list[list]:
        frame = frame.reset_index()
        return _records(frame[["bucket", *labels, "value"]].dropna(subset=["value"]))

    q = p[p["ts"] >= quarter].assign(bucket=lambda f: f["ts"].dt.floor("900s"))
    by = q.groupby(["bucket", "model_version"])
    latency = pd.DataFrame({"value": by["latency_ms"].quantile(0.95), "n": by.size()})
    out["ops.latency_p95_ms"] = rows(latency[latency["n"] >= 50], ["model_version"])
    per = q.assign(error=q["status"] >= 500, hit=q["cache_hit"].astype("float")).groupby("bucket")
    errors = pd.DataFrame({"value": per["error"].mean(), "n": per.size()})
    out["ops.error_rate"] = rows(errors[errors["n"] >= 50], [])
    hits = pd.DataFrame({"value": per["hit"].mean(), "n": per["hit"].count()})
    out["ops.cache_hit_rate"] = rows(hits[hits["n"] >= 50], [])
    served = by.size().groupby("bucket").agg(["sum", "max", "count"])
    served = served[served["count"] > 1]
    out["ab.canary_share"] = rows(served.assign(value=1 - served["max"] / served["sum"]), [])

    day = p["ts"].dt.normalize()
    joined = p.assign(day=day)[["request_id", "day", "model_version", "label"]].merge(
        o[["request_id", "true_label", "dt"]], on="request_id"
    )
    joined = joined[pd.to_datetime(joined["dt"].astype(str)) >= joined["day"]]
    scored = joined.assign(right=joined["label"] == joined["true_label"]).groupby(["day", "model_version"])["right"]
    accuracy = pd.DataFrame({"value": scored.mean(), "n": scored.size()}).rename_axis(["bucket", "model_version"])
    out["model.accuracy"] = rows(accuracy[accuracy["n"] >= 100], ["model_version"])

    labels = p.groupby([day.rename("bucket"), "label"]).size().unstack(fill_value=0)
    base = reference["label"].value_counts()
    names = sorted(set(labels.columns) | set(base.index))
    kl = {
        bucket: kl_divergence(row.reindex(names, fill_value=0).to_numpy(), base.reindex(names, fill_value=0).to_numpy())
        for bucket, row in labels.iterrows()
        if row.sum() >= 100
    }
    out["prediction.label_kl"] = rows(pd.DataFrame({"value": pd.Series(kl)}).rename_axis("bucket"), [])

    psis = []
    for feature in [c for c in p.columns if c not in fixed and c != "dt" and c in reference.columns]:
        values, ref = p[feature], reference[feature].dropna()
        if pd.api.types.is_numeric_dtype(values):
            edges = np.unique(np.quantile(ref.to_numpy(dtype=float), DECILES))
            base_bins = np.bincount(np.searchsorted(edges, ref.to_numpy(dtype=float)), minlength=len(edges) + 1)
            binned = pd.Series(np.searchsorted(edges, values.to_numpy(dtype=float)), index=values.index)
            counts = binned[values.notna()].groupby(day).value_counts().unstack(fill_value=0)
            counts = counts.reindex(columns=range(len(edges) + 1), fill_value=0)
        else:
            if ref.nunique() >= 50:  # high-cardinality IDs: drift.psi leaves them to cardinality growth
                continue
            counts = values.dropna().astype(str).groupby(day).value_counts().unstack(fill_value=0)
            categories = sorted(set(ref.astype(str)) | set(counts.columns))
            counts = counts.reindex(columns=categories, fill_value=0)
            base_bins = ref.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy()
        for bucket, row in counts.iterrows():
            if row.sum() >= 100:
                psis.append({"bucket": bucket, "feature": feature, "value": psi(base_bins, row.to_numpy(dtype=float))})
    out["drift.psi"] = rows(pd.DataFrame(psis).set_index("bucket"), ["feature"])

    starts = pd.date_range(quarter, end - pd.Timedelta("1us"), freq="900s")
    ends = np.minimum(starts + pd.Timedelta("900s"), end)
    ages = []
    for table, frame in zip(FRESHNESS_TABLES, (p, o), strict=True):  # minutes since the newest row so far
        frame = frame[(frame["ts"] >= quarter) & (frame["ts"] < end)]
        newest = frame.groupby(frame["ts"].dt.floor("900s"))["ts"].max().reindex(starts).ffill()
        minutes = (ends - newest.to_numpy()) / pd.Timedelta(minutes=1)
        ages.append(pd.DataFrame({"bucket": starts, "table": table, "value": np.asarray(minutes, dtype=float)}))
    out["data.freshness_minutes"] = rows(pd.concat(ages).set_index("bucket"), ["table"])
    return out


# -- parent -------------------------------------------------------------------------------------


def _worker(kind: str, args: argparse.Namespace, end: datetime) -> dict:
    command = [sys.executable, __file__, "--worker", kind, "--data", str(args.data), "--days", str(args.days)]
    command += ["--repeat", str(args.repeat), "--end", end.isoformat()]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode or not lines:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT) :])


def _compare(ours: dict, theirs: dict) -> list[str]:
    """Each checked metric's rows must match: same buckets and labels, values within 1e-9 (relative)."""
    problems = []
    for metric, _ in CHECKED:
        a, b = ours[metric], theirs[metric]
        keys_a, keys_b = [r[:-1] for r in a], [r[:-1] for r in b]
        if keys_a != keys_b:
            problems.append(f"{metric}: {len(a)} rows in dashapp, {len(b)} in pandas, series differ")
            continue
        worst = max((abs(x[-1] - y[-1]) / max(abs(y[-1]), 1e-12) for x, y in zip(a, b, strict=True)), default=0)
        if worst > 1e-9:
            problems.append(f"{metric}: values differ by up to {worst:.2e} (relative)")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO / "data" / "bench-10000000")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--worker", choices=("dashapp", "pandas"))
    parser.add_argument("--end", type=datetime.fromisoformat)
    args = parser.parse_args()
    args.data = args.data.resolve()
    if args.worker:
        work = work_dashapp if args.worker == "dashapp" else work_pandas
        result = work(args.data, args.days, args.repeat, args.end)
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(RESULT + json.dumps(result))
        return

    if not (args.data / "predictions").is_dir():
        raise SystemExit(f"no demo at {args.data}: .venv/bin/dashapp demo --out {args.data} --rows 10000000 --days 30")
    end = _end_of_data(args.data)
    cores = os.cpu_count()
    print(f"{args.data.name}: {args.days} days to {end:%Y-%m-%d %H:%M} UTC, {cores} cores, median of {args.repeat}")
    ours, theirs = _worker("dashapp", args, end), _worker("pandas", args, end)
    problems = _compare(ours["values"], theirs["values"])
    checked = ", ".join(f"{m} ({len(ours['values'][m])} rows)" for m, _ in CHECKED)
    print(("Values differ: " + "; ".join(problems)) if problems else f"Values equal (1e-9): {checked}")
    print(f"\nDuckDB threads per worker: {ours['threads']}\n")
    modes = list(ours["modes"])
    print("| rule | " + " | ".join(modes) + " |\n|---|" + "---:|" * len(modes))
    for rule in ours["rules"]:
        cells = [f"{ours['modes'][m]['rules'][rule] * 1000:.0f} ms" for m in modes]
        print(f"| {rule} | " + " | ".join(cells) + " |")
    cells = []
    for mode in modes:
        total = ours["modes"][mode]["total"]
        p95 = f" (p95 {total['p95']:.2f})" if total["p95"] is not None else ""
        cells.append(f"**{total['median']:.2f} s**{p95}")
    print("| **all rules** | " + " | ".join(cells) + " |")
    pandas_total = theirs["total"]
    print(
        f"\npandas read + aggregate (the rules on predictions, outcomes and the reference): "
        f"{pandas_total['median']:.2f} s median, peak RSS {theirs['peak_rss_mib']:,.0f} MiB; "
        f"dashapp worker peak RSS {ours['peak_rss_mib']:,.0f} MiB"
    )
    cold = ours["modes"]["cold"]["total"]["median"]
    cron = ours["modes"]["cron"]["total"]["median"]
    print(f"pandas / dashapp: {pandas_total['median'] / cold:.1f}x cold, {pandas_total['median'] / cron:.1f}x cron")


if __name__ == "__main__":
    main()
