"""Benchmark the pages' charts and queries against the performance targets in docs/architecture.md (run by hand).

    .venv/bin/python tests/bench/bench_queries.py [--rows 10000000] [--days 30] [--data DIR] [--repeat 5]
                                                  [--threads N] [--json tests/artifacts/bench.json]
                                                  [--only charts|cached|live|compare ...]
                                                  [--page / --page /drift ...]

Not a pytest test: nothing here is named test_*. It generates (or reuses) a demo data set under
data/bench-<rows>, then runs every measurement in its own subprocess (this script with --worker) so
each approach's peak RSS (VmHWM) is its own:

- per chart of the pages ("/", "/drift" and "/operations" unless --page names some), for a 7-day
  and a 30-day window ending where the data ends:
  the data function uncached (one Database with cache=None, its connection kept open; the first
  call, which opens DuckDB and builds the views, is reported apart and not in the median), every
  distinct query it runs, and the full render uncached; one process per (chart, window);
- the same charts through create_app's Database with its FileSystemCache, data function and full
  render, after one warm-up call; one process for both windows, like a worker serving both pages;
- a live portal: every chart's data function through create_app's FileSystemCache, per window, with
  the cache emptied before each call (cold), with the window moved back one bucket per call (the
  days it shares with earlier windows cached: dayslices.py), and with the newest partitions of
  predictions and outcomes rewritten before each call (new data today);
- two representative aggregations through dashapp (uncached; and live: past days cached, today's
  partition rewritten before each call), through the bare SQL file on a plain DuckDB connection,
  through pandas reading the whole predictions folder, and through pandas with column pruning and
  a partition filter; results are checked equal (counts exactly, percentiles within 1e-9
  relative) before the timings are compared.

The live parts bump the mtime of the data set's newest partition files (nothing else changes).

Times are the median (and p95 when --repeat >= 5) of --repeat runs after a warm-up run. The OS page
cache is warm for every approach (the data set was just written or read), so disk speed is not
measured. Other jobs on the machine add noise: compare ratios from one run, not numbers across runs.
Results go to stdout as Markdown and to --json. --threads sets DuckDB's threads per worker (default:
DASHAPP_DUCKDB_THREADS, else Config's cores // workers); the bare DuckDB run uses the same count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUERIES_DIR = REPO / "queries"
PAGES = ("/", "/drift", "/sentiment", "/correlation", "/operations")
PARTS = ("charts", "cached", "live", "compare")
VIEWS = {"7d": 7, "30d": 30}  # window name -> days before the data's end
RESULT_MARK = "BENCH-RESULT "
SEED = 7

# The naive comparison: one SQL file with fixed parameters, and the same result computed in pandas.
COMPARISONS = {
    "latency_30d_1h": {
        "title": "30-day hourly latency p50/p95/p99 per model_version",
        "query": "ops_latency_quantiles",
        "chart": "ops.latency",
        "days": 30,
        "bucket": "1h",
        "columns": ["ts", "model_version", "latency_ms"],
        "counts": ["requests"],
        "floats": ["p50_ms", "p95_ms", "p99_ms"],
    },
    "requests_7d_15m": {
        "title": "7-day request counts per 15-minute bucket and model_version",
        "query": "ops_requests",
        "chart": "ops.throughput",
        "days": 7,
        "bucket": "15m",
        "columns": ["ts", "model_version", "status", "cache_hit"],
        "counts": ["requests", "server_errors", "client_errors", "cache_hits", "cache_lookups"],
        "floats": [],
    },
}
APPROACHES = {
    "dashapp": "dashapp Database.run, uncached (open connection)",
    "dashapp_live": "dashapp, past days cached, a new file in today's partition",
    "duckdb_bare": "bare DuckDB: same SQL file, plain connection",
    "pandas_naive": "pandas: read_parquet(whole folder, all columns) + groupby",
    "pandas_pruned": "pandas: read_parquet(columns, dt filter) + groupby",
}


# -- small helpers (parent and workers) ----------------------------------------------------------


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _median(samples: list[float]) -> float | None:
    return _percentile(samples, 50)


def _percentile(samples: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), without importing numpy in the parent."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process (this one by default), in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _window_args(end: datetime, days: int, bucket: str | None = None) -> dict[str, list[str]]:
    """Query-string arguments for a window of `days` ending at `end` (what a page passes to render)."""
    args = {"start": [(end - timedelta(days=days)).isoformat()], "end": [end.isoformat()]}
    if bucket:
        args["bucket"] = [bucket]
    return args


def _config(task: dict):
    """The dashapp Config of a worker: DASHAPP_* variables, then the benchmark's own settings."""
    from dashapp.config import Config

    overrides = {"data_dir": Path(task["data"]), "cache_dir": Path(task["cache_dir"]), "cache_type": "filesystem"}
    if task.get("threads"):
        overrides["duckdb_threads"] = task["threads"]
    return Config.from_env(**overrides)


# -- workers: each runs in its own process --------------------------------------------------------


def work_chart_uncached(task: dict) -> dict:
    """Time one chart's data function, its distinct queries and its full render, uncached."""
    from dashapp.charts import REGISTRY, parse_params, render
    from dashapp.db import Database

    baseline = _proc_status()["VmRSS"]
    spec = REGISTRY[task["chart"]]
    params, _ = parse_params(spec, task["args"])
    db = Database(_config(task), cache=None)
    calls: list[tuple[str, dict]] = []
    run = db.run

    def recording_run(name, **kwargs):
        calls.append((name, dict(kwargs)))
        return run(name, **kwargs)

    db.run = recording_run  # this instance only: learn which queries the data function runs
    first, frame = _timed(lambda: spec.data(db, params))
    distinct = {}
    for name, bound in calls:
        distinct.setdefault((name, json.dumps(_jsonable(bound), sort_keys=True)), (name, bound))
    db.run = run
    data_samples = [_timed(lambda: spec.data(db, params))[0] for _ in range(task["repeat"])]
    queries = []
    for name, bound in distinct.values():
        rows = len(db.run(name, **bound))  # warm-up for this exact query (already run once above)
        samples = [_timed(lambda n=name, b=bound: db.run(n, **b))[0] for _ in range(task["repeat"])]
        bucket = bound.get("bucket")
        queries.append({"query": name, "bucket_s": bucket, "rows": rows, "samples": samples})
    render(spec, task["args"], db)  # warm-up of the coverage line (data_through)
    render_samples = [_timed(lambda: render(spec, task["args"], db))[0] for _ in range(task["repeat"])]
    return {
        "first_call_s": first,
        "rows": len(frame),
        "data_samples": data_samples,
        "render_samples": render_samples,
        "queries": queries,
        "threads": int(db.settings()["threads"]),
        "rss_after_imports": baseline,
    }


def work_extent_uncached(task: dict) -> dict:
    """Time the coverage line's query (Database.data_through: meta_extent.sql) per table, uncached."""
    from dashapp.db import Database

    db = Database(_config(task), cache=None)
    out = {}
    for table in task["tables"]:
        first, _ = _timed(lambda t=table: db.data_through(t))
        samples = [_timed(lambda t=table: db.data_through(t))[0] for _ in range(task["repeat"])]
        out[table] = {"first_call_s": first, "samples": samples}
    return {"tables": out}


def work_cached(task: dict) -> dict:
    """Time data functions and full renders through create_app's cached Database (both windows)."""
    from dashapp import create_app
    from dashapp.charts import REGISTRY, parse_params, render

    baseline = _proc_status()["VmRSS"]
    app = create_app(_config(task))
    out = []
    with app.server.app_context():
        db = app.server.extensions["dashapp"].db
        for view, args in task["views"].items():
            for chart in task["charts"]:
                spec = REGISTRY[chart]
                params, _ = parse_params(spec, args)
                fill, _ = _timed(lambda s=spec, p=params: s.data(db, p))  # uncached: fills the cache
                data_samples = [_timed(lambda s=spec, p=params: s.data(db, p))[0] for _ in range(task["repeat"])]
                render(spec, args, db)  # warm-up: fills the coverage line's entries
                render_samples = [_timed(lambda s=spec, a=args: render(s, a, db))[0] for _ in range(task["repeat"])]
                out.append(
                    {
                        "chart": chart,
                        "view": view,
                        "fill_s": fill,
                        "data_samples": data_samples,
                        "render_samples": render_samples,
                    }
                )
        threads = int(db.settings()["threads"])
    return {"charts": out, "threads": threads, "rss_after_imports": baseline}


def touch_newest_partitions(data: Path) -> None:
    """Make the newest dt= partition of predictions and outcomes look rewritten: a new file arrived."""
    for table in ("predictions", "outcomes"):
        newest = max((data / table).glob("dt=*"))
        for path in newest.glob("*.parquet"):
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))


def work_live(task: dict) -> dict:
    """Time each chart's data function as a live portal meets it, through create_app's FileSystemCache.

    cold: the cache emptied before each call. moved: the window moved back one bucket, each call a
    window not seen before, the days it shares with earlier windows cached. new data: the newest
    partitions of predictions and outcomes rewritten before each call, the same window.
    """
    from dashapp import create_app
    from dashapp.charts import REGISTRY, parse_params
    from dashapp.timerange import BUCKETS, auto_bucket

    app = create_app(_config(task))
    data, end, out = Path(task["data"]), datetime.fromisoformat(task["end"]), []
    step = timedelta(seconds=BUCKETS[auto_bucket(end - timedelta(days=task["days"]), end)])
    with app.server.app_context():
        db = app.server.extensions["dashapp"].db
        for chart in task["charts"]:
            spec = REGISTRY[chart]
            params, _ = parse_params(spec, _window_args(end, task["days"]))
            spec.data(db, params)  # warm-up: connection and views
            cold, moved, fresh = [], [], []
            for _ in range(task["repeat"]):
                db.cache.clear()
                cold.append(_timed(lambda s=spec, p=params: s.data(db, p))[0])
            for i in range(1, task["repeat"] + 1):
                shifted, _ = parse_params(spec, _window_args(end - i * step, task["days"]))
                moved.append(_timed(lambda s=spec, p=shifted: s.data(db, p))[0])
            spec.data(db, params)
            for _ in range(task["repeat"]):
                touch_newest_partitions(data)
                fresh.append(_timed(lambda s=spec, p=params: s.data(db, p))[0])
            out.append({"chart": chart, "cold": cold, "moved": moved, "new_data": fresh})
        threads = int(db.settings()["threads"])
    return {"charts": out, "threads": threads}


def _bound(sql: str, params: dict) -> dict:
    """Keep the parameters a SQL text binds ($name outside comments)."""
    import re

    body = "\n".join(line.split("--")[0] for line in sql.splitlines())
    used = set(re.findall(r"(?<![:$\w])\$([a-z_][a-z0-9_]*)", body))
    return {k: v for k, v in params.items() if k in used}


def _normalise(frame, comparison: dict):
    """Sort a result by (bucket, model_version) and fix dtypes, so approaches compare cell by cell."""
    import pandas as pd

    frame = frame.reset_index() if "bucket" not in frame.columns else frame
    frame = frame[["bucket", "model_version", *comparison["counts"], *comparison["floats"]]].copy()
    frame["bucket"] = pd.to_datetime(frame["bucket"]).astype("datetime64[us]")
    frame["model_version"] = frame["model_version"].astype(str)
    for column in comparison["counts"]:
        frame[column] = frame[column].astype("int64")
    for column in comparison["floats"]:
        frame[column] = frame[column].astype("float64")
    return frame.sort_values(["bucket", "model_version"]).reset_index(drop=True)


def _pandas_aggregate(frame, comparison: dict, params: dict, bucket_s: int):
    """The comparison's aggregation in pandas, on rows already loaded."""
    import pandas as pd

    window = frame[(frame["ts"] >= params["start"]) & (frame["ts"] < params["end"])]
    keys = [window["ts"].dt.floor(pd.Timedelta(seconds=bucket_s)).rename("bucket"), window["model_version"]]
    if comparison["query"] == "ops_latency_quantiles":
        grouped = window.groupby(keys, sort=True)["latency_ms"]
        out = grouped.quantile([0.5, 0.95, 0.99]).unstack()
        out.columns = ["p50_ms", "p95_ms", "p99_ms"]
        out["requests"] = grouped.size()
        return out.reset_index()
    status, hit = window["status"], window["cache_hit"]
    flags = pd.DataFrame(
        {
            "requests": 1,
            "server_errors": status >= 500,
            "client_errors": (status >= 400) & (status < 500),
            "cache_hits": hit.fillna(False).astype(bool),
            "cache_lookups": hit.notna(),
        },
        index=window.index,
    )
    return flags.groupby(keys, sort=True).sum().reset_index()


def work_compare(task: dict) -> dict:
    """Time one comparison aggregation with one approach; save its result for the equality check."""
    import pandas as pd

    comparison = COMPARISONS[task["comparison"]]
    params = {k: datetime.fromisoformat(v) if k in ("start", "end") else v for k, v in task["params"].items()}
    sql = (QUERIES_DIR / f"{comparison['query']}.sql").read_text()
    bound = _bound(sql, params)
    approach = task["approach"]
    predictions = Path(task["data"]) / "predictions"
    extra = {}
    if approach == "dashapp":
        from dashapp.db import Database

        db = Database(_config(task), cache=None)

        def once():
            return db.run(comparison["query"], **bound)

        extra["threads"] = int(db.settings()["threads"])
    elif approach == "dashapp_live":
        from flask_caching.backends import FileSystemCache

        from dashapp.db import Database

        db = Database(_config(task), cache=FileSystemCache(task["cache_dir"], default_timeout=0))
        calls = 0

        def once():
            nonlocal calls
            if calls:  # the first call fills the cache: the cold answer, checked equal to the others
                touch_newest_partitions(Path(task["data"]))
            calls += 1
            return db.run(comparison["query"], **bound)

        extra["threads"] = int(db.settings()["threads"])
    elif approach == "duckdb_bare":
        import duckdb

        con = duckdb.connect(":memory:")
        con.execute(f"SET threads = {int(task['resolved_threads'])}")
        con.execute("SET TimeZone = 'UTC'")
        glob = str(predictions / "*" / "*.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW predictions AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
        con.execute((QUERIES_DIR / "view_predictions_in.sql").read_text())

        def once():
            return con.execute(sql, bound).df()

        extra["threads"] = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    elif approach == "pandas_naive":

        def once():
            read, frame = _timed(lambda: pd.read_parquet(predictions))
            reads.append(read)
            return _pandas_aggregate(frame, comparison, params, params["bucket"])

    elif approach == "pandas_pruned":
        day_filter = [("dt", ">=", params["start"].date().isoformat()), ("dt", "<=", params["end"].date().isoformat())]

        def once():
            read, frame = _timed(
                lambda: pd.read_parquet(predictions, columns=comparison["columns"], filters=day_filter)
            )
            reads.append(read)
            return _pandas_aggregate(frame, comparison, params, params["bucket"])

    else:
        raise ValueError(approach)
    reads: list[float] = []
    first, result = _timed(once)
    samples = [_timed(once)[0] for _ in range(task["repeat"])]
    _normalise(result, comparison).to_parquet(task["result_path"])
    if reads:
        extra["read_samples"] = reads[1:]
    return {"first_call_s": first, "samples": samples, "rows": len(result), **extra}


WORKERS = {
    "chart_uncached": work_chart_uncached,
    "extent_uncached": work_extent_uncached,
    "cached": work_cached,
    "compare": work_compare,
    "live": work_live,
}


def worker_main(task_json: str) -> None:
    task = json.loads(task_json)
    load = os.getloadavg()[0]
    result = WORKERS[task["kind"]](task)
    status = _proc_status()
    result |= {"peak_rss": status["VmHWM"], "final_rss": status["VmRSS"], "loadavg": [load, os.getloadavg()[0]]}
    print(RESULT_MARK + json.dumps(result), flush=True)


# -- the parent: data set, tasks, report ----------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prediction_files(data: Path) -> list[Path]:
    return sorted(p for p in (data / "predictions").glob("dt=*/*.parquet") if not p.name.startswith((".", "_")))


def demo_facts(data: Path) -> dict | None:
    """Row count, day partitions and last timestamp of an existing demo, from parquet footers only."""
    import pyarrow.parquet as pq

    files = prediction_files(data)
    if not files or not (data / "pipeline_runs.parquet").is_file() or not (data / "outcomes").is_dir():
        return None
    rows, last = 0, None
    for path in files:
        meta = pq.read_metadata(path)
        rows += meta.num_rows
        column = meta.schema.names.index("ts")
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(column).statistics
            if stats is not None and stats.has_min_max:
                last = stats.max if last is None else max(last, stats.max)
    days = len({p.parent.name for p in files})
    return {"rows": rows, "day_partitions": days, "last_ts": last}


def ensure_demo(data: Path, rows: int, days: int) -> dict:
    facts = demo_facts(data)
    if facts and facts["rows"] == rows and facts["day_partitions"] in (days, days + 1):
        log(f"reusing {data} ({rows:,} prediction rows, {facts['day_partitions']} day partitions)")
        return facts | {"generated": False}
    from dashapp.demo import write_demo

    log(f"writing a demo of {rows:,} rows over {days} days to {data} ...")
    seconds, counts = _timed(lambda: write_demo(data, rows, days, SEED, progress=lambda m: None))
    log(f"wrote the demo in {seconds:.0f} s: {counts}")
    facts = demo_facts(data)
    if facts is None or facts["rows"] != rows:
        raise SystemExit(f"the demo at {data} has {facts and facts['rows']} prediction rows, expected {rows}")
    return facts | {"generated": True, "generate_s": seconds}


def run_worker(task: dict) -> dict:
    """Run one measurement in a fresh interpreter; return its result (or the error it died with)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(task)]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :]) | {"wall_s": wall}
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    log(f"worker {task['kind']} failed (exit {proc.returncode}): " + " | ".join(tail))
    return {"error": " | ".join(tail), "exit": proc.returncode}


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _table_rows(data: Path, table: str) -> int:
    import pyarrow.parquet as pq

    single = data / f"{table}.parquet"
    files = [single] if single.is_file() else sorted((data / table).glob("*/*.parquet"))
    return sum(pq.read_metadata(p).num_rows for p in files)


def _stats(samples: list[float] | None, repeat: int) -> dict:
    if not samples:
        return {}
    out = {"median_s": _median(samples), "n": len(samples), "samples_s": samples}
    if repeat >= 5:
        out["p95_s"] = _percentile(samples, 95)
    return out


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds * 1000:.1f} ms"


def fmt_stats(stats: dict) -> str:
    if not stats:
        return "—"
    text = fmt_s(stats["median_s"])
    return text + (f" (p95 {fmt_s(stats['p95_s'])})" if "p95_s" in stats else "")


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "—"
    if value >= 1024**3:
        return f"{value / 1024**3:.2f} GiB"
    return f"{value / 1024**2:.0f} MiB"


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def check_equal(reference_path: Path, other_path: Path, comparison: dict) -> str:
    """Compare two saved results: same keys, equal counts, percentiles within 1e-9 relative."""
    import numpy as np
    import pandas as pd

    a, b = pd.read_parquet(reference_path), pd.read_parquet(other_path)
    if len(a) != len(b):
        return f"DIFFERENT: {len(b)} rows vs {len(a)}"
    keys_equal = a["bucket"].equals(b["bucket"]) and (a["model_version"] == b["model_version"]).all()
    if not keys_equal:
        return "DIFFERENT: buckets or model versions differ"
    for column in comparison["counts"]:
        if not (a[column].to_numpy() == b[column].to_numpy()).all():
            return f"DIFFERENT: {column} counts differ"
    for column in comparison["floats"]:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if not np.allclose(x, y, rtol=1e-9, atol=0.0, equal_nan=True):
            worst = np.nanmax(np.abs(x - y) / np.maximum(np.abs(x), 1e-300))
            return f"DIFFERENT: {column} off by up to {worst:.2e} relative"
    return f"equal ({len(a):,} rows)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="prediction rows of the demo")
    parser.add_argument("--days", type=int, default=30, help="days the demo spans")
    parser.add_argument("--data", type=Path, help="demo folder (default data/bench-<rows>)")
    parser.add_argument("--repeat", type=int, default=5, help="measured runs per timing (after a warm-up)")
    parser.add_argument(
        "--threads", type=int, default=0, help="DuckDB threads (default: DASHAPP_DUCKDB_THREADS/Config)"
    )
    parser.add_argument("--json", type=Path, default=REPO / "tests" / "artifacts" / "bench.json")
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only these parts (repeatable; default all): charts (uncached), cached, live, compare",
    )
    parser.add_argument(
        "--page", action="append", choices=PAGES, help="measure only these pages' charts (repeatable; default all)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    import duckdb
    import pandas as pd
    import pyarrow

    from dashapp.charts import REGISTRY, parse_params
    from dashapp.config import Config

    data = (args.data or REPO / "data" / f"bench-{args.rows}").resolve()
    facts = ensure_demo(data, args.rows, args.days)
    last = facts["last_ts"]
    # Windows end where the data ends (floored to the minute, plus one), so reruns on an old data
    # set measure what "now-7d" measured the day it was written.
    end = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    overrides = {"data_dir": data}
    if args.threads:
        overrides["duckdb_threads"] = args.threads
    config = Config.from_env(**overrides)
    if args.threads:
        threads_source = "--threads"
    elif os.environ.get("DASHAPP_DUCKDB_THREADS", "0").strip() not in ("", "0"):
        threads_source = "DASHAPP_DUCKDB_THREADS"
    else:
        threads_source = f"Config default (duckdb_threads=0 resolves to {config.duckdb_threads} here)"
    charts = [cid for page in args.page or PAGES for cid, spec in REGISTRY.items() if spec.page == page]
    views = {name: _window_args(end, days) for name, days in VIEWS.items()}
    scratch = Path(tempfile.mkdtemp(prefix="dashapp-bench-"))
    base = {
        "data": str(data),
        "cache_dir": str(scratch / "cache"),
        "threads": args.threads or None,
        "repeat": args.repeat,
        "resolved_threads": config.duckdb_threads,
    }
    parts = set(args.only or PARTS)
    results: dict = {"chart_uncached": {}, "compare": {}, "cached": {}, "extent": {}, "live": {}}
    try:
        if "charts" in parts:
            for view, view_args in views.items():
                for chart in charts:
                    log(f"uncached {chart} {view}")
                    task = base | {"kind": "chart_uncached", "chart": chart, "args": view_args}
                    results["chart_uncached"][(chart, view)] = run_worker(task)
            log("uncached coverage line (data_through)")
            task = base | {"kind": "extent_uncached", "tables": ["predictions", "pipeline_runs"]}
            results["extent"] = run_worker(task)
        if "cached" in parts:
            log("cached worker: all charts, both windows")
            results["cached"] = run_worker(base | {"kind": "cached", "charts": charts, "views": views})
        if "live" in parts:
            for view, days in VIEWS.items():
                log(f"live worker: all charts, {view}, cold / moved window / new data")
                task = base | {"kind": "live", "charts": charts, "days": days, "end": end.isoformat()}
                task["cache_dir"] = str(scratch / f"live-{view}")
                results["live"][view] = run_worker(task)
        if "compare" in parts:
            for key, comparison in COMPARISONS.items():
                spec = REGISTRY[comparison["chart"]]
                params, _ = parse_params(spec, _window_args(end, comparison["days"], comparison["bucket"]))
                for approach in APPROACHES:
                    log(f"compare {key}: {approach}")
                    task = base | {
                        "kind": "compare",
                        "comparison": key,
                        "approach": approach,
                        "params": _jsonable(params),
                        "result_path": str(scratch / f"{key}-{approach}.parquet"),
                        "cache_dir": str(scratch / f"{key}-{approach}-cache"),
                    }
                    results["compare"][(key, approach)] = run_worker(task) | {"params": _jsonable(params)}
                reference = scratch / f"{key}-dashapp.parquet"
                for approach in APPROACHES:
                    other = scratch / f"{key}-{approach}.parquet"
                    if approach != "dashapp" and reference.is_file() and other.is_file():
                        results["compare"][(key, approach)]["check"] = check_equal(reference, other, comparison)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    versions = {"duckdb": duckdb.__version__, "pandas": pd.__version__, "pyarrow": pyarrow.__version__}
    report = build_report(args, data, facts, end, config, threads_source, charts, results, versions)
    print(report["markdown"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_jsonable(report["json"]), indent=2, default=str) + "\n")
    log(f"wrote {args.json}")
    return 0


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _worst(rows: list[dict], column: str, stat: str) -> dict | None:
    rows = [r for r in rows if r[column]]
    return max(rows, key=lambda r: r[column][stat], default=None)


def chart_tables(results: dict, charts: list[str], repeat: int) -> tuple[list, list, list, list]:
    """Rows (Markdown and JSON) of the per-chart table and of the per-distinct-query table."""
    from dashapp.charts import REGISTRY

    cached = {(c["chart"], c["view"]): c for c in results["cached"].get("charts", [])}
    chart_json, pooled = [], {}
    for chart, view in dict.fromkeys([*results["chart_uncached"], *cached]):
        r, c = results["chart_uncached"].get((chart, view), {}), cached.get((chart, view), {})
        for q in r.get("queries", []):
            entry = pooled.setdefault(
                (q["query"], view, q["bucket_s"]), {"charts": [], "samples": [], "rows": q["rows"]}
            )
            entry["charts"].append(chart)
            entry["samples"] += q["samples"]
        chart_json.append(
            {
                "chart": chart,
                "page": REGISTRY[chart].page,
                "view": view,
                "queries": [q["query"] for q in r.get("queries", [])],
                "rows_out": r.get("rows"),
                "first_call_s": r.get("first_call_s"),
                "data_uncached": _stats(r.get("data_samples"), repeat),
                "render_uncached": _stats(r.get("render_samples"), repeat),
                "data_cached": _stats(c.get("data_samples"), repeat),
                "render_cached": _stats(c.get("render_samples"), repeat),
                # The cached worker's first call: a miss, unless an earlier chart filled the same key.
                "cached_worker_first_call_s": c.get("fill_s"),
                "peak_rss": r.get("peak_rss"),
                "error": r.get("error"),
            }
        )
    sharing: dict[str, set] = {}
    for (name, _view, _bucket), entry in pooled.items():
        sharing.setdefault(name, set()).update(entry["charts"])
    chart_json.sort(key=lambda x: (list(VIEWS).index(x["view"]), charts.index(x["chart"])))
    chart_rows = []
    for row in chart_json:
        names = [q + (f" ×{len(sharing[q])} charts" if len(sharing.get(q, ())) > 1 else "") for q in row["queries"]]
        chart_rows.append(
            [
                f"{row['chart']}: {', '.join(names)}"
                if names
                else row["chart"] + (": " + row["error"] if row["error"] else ""),
                row["view"],
                fmt_s(row["first_call_s"]),
                fmt_stats(row["data_uncached"]),
                fmt_stats(row["data_cached"]),
                fmt_stats(row["render_uncached"]),
                fmt_stats(row["render_cached"]),
                fmt_bytes(row["peak_rss"]),
            ]
        )
    query_json, query_rows = [], []
    for (name, view, bucket), entry in sorted(pooled.items(), key=lambda kv: (list(VIEWS).index(kv[0][1]), kv[0][0])):
        stats = _stats(entry["samples"], repeat)
        query_json.append(
            {
                "query": name,
                "view": view,
                "bucket_s": bucket,
                "charts": entry["charts"],
                "rows_out": entry["rows"],
                "uncached": stats,
            }
        )
        bucket_text = f"{bucket // 60} min" if bucket else "—"
        query_rows.append(
            [
                name,
                ", ".join(entry["charts"]),
                view,
                bucket_text,
                f"{entry['rows']:,}",
                fmt_stats(stats),
                stats.get("n"),
            ]
        )
    for table, e in results["extent"].get("tables", {}).items():
        stats = _stats(e["samples"], repeat)
        query_json.append({"query": f"meta_extent({table})", "view": "data through", "uncached": stats})
        query_rows.append(
            [
                f"meta_extent ({table})",
                "data_through: coverage line of every render",
                "data through",
                "—",
                "1",
                fmt_stats(stats),
                stats["n"],
            ]
        )
    return chart_rows, chart_json, query_rows, query_json


def compare_tables(results: dict, repeat: int) -> tuple[list, list, list]:
    """Rows of the naive-comparison table, and the target lines for speed-up and layer overhead."""
    rows, out, summary = [], [], []
    for key, comparison in COMPARISONS.items():
        got = {a: results["compare"].get((key, a), {}) for a in APPROACHES}
        stats = {a: _stats(r.get("samples"), repeat) for a, r in got.items()}
        dash = stats["dashapp"]
        for approach, label in APPROACHES.items():
            r, st = got[approach], stats[approach]
            ratio = st["median_s"] / dash["median_s"] if st and dash else None
            rss_ratio = (
                r["peak_rss"] / got["dashapp"]["peak_rss"]
                if r.get("peak_rss") and got["dashapp"].get("peak_rss")
                else None
            )
            read = _stats(r.get("read_samples"), repeat)
            check = "reference" if approach == "dashapp" else r.get("check", r.get("error", "not checked"))
            out.append(
                {
                    "comparison": key,
                    "approach": approach,
                    "params": r.get("params"),
                    "rows_out": r.get("rows"),
                    "first_call_s": r.get("first_call_s"),
                    "time": st,
                    "read": read,
                    "peak_rss": r.get("peak_rss"),
                    "time_ratio_to_dashapp": ratio,
                    "rss_ratio_to_dashapp": rss_ratio,
                    "check": check,
                    "error": r.get("error"),
                }
            )
            rows.append(
                [
                    comparison["title"] if approach == "dashapp" else "",
                    label,
                    fmt_stats(st),
                    fmt_s(read["median_s"]) if read else "—",
                    fmt_bytes(r.get("peak_rss")),
                    f"{ratio:.2f}×" if ratio else "—",
                    f"{rss_ratio:.1f}×" if rss_ratio else "—",
                    check,
                ]
            )
        bare, naive = stats["duckdb_bare"], stats["pandas_naive"]
        if dash and bare:
            by_median = dash["median_s"] / bare["median_s"]
            by_best = min(got["dashapp"]["samples"]) / min(got["duckdb_bare"]["samples"])
            summary.append(
                f"- {key}: dashapp ÷ bare DuckDB = {by_median:.2f}× by median, {by_best:.2f}× by best run"
                f" (target ≤ 1.5×: {_met(by_median <= 1.5)})"
            )
        for approach in ("dashapp", "dashapp_live"):
            if stats[approach] and naive:
                speedup = naive["median_s"] / stats[approach]["median_s"]
                summary.append(
                    f"- {key}: pandas whole-folder ÷ {approach} = {speedup:.1f}× (target ≥ 10×: {_met(speedup >= 10)})"
                )
    return rows, out, summary


LIVE_SCENARIOS = {"cold": "cold cache", "moved": "window moved one bucket", "new_data": "new data today"}
LIVE_TARGETS = {"7d": 0.5, "30d": 1.0}  # seconds, uncached: what a live page may take


def live_tables(results: dict, repeat: int) -> tuple[list, list, list]:
    """Rows of the live-portal table (a chart's data function per scenario), and its target lines."""
    rows, out, summary = [], [], []
    for view, worker in results["live"].items():
        worst = {}
        for entry in worker.get("charts", []):
            stats = {k: _stats(entry[k], repeat) for k in LIVE_SCENARIOS}
            out.append({"chart": entry["chart"], "view": view, **stats})
            rows.append([entry["chart"], view, *(fmt_stats(stats[k]) for k in LIVE_SCENARIOS)])
            for k in LIVE_SCENARIOS:
                if k not in worst or stats[k]["median_s"] > worst[k][1]["median_s"]:
                    worst[k] = (entry["chart"], stats[k])
        for k, (chart, stats) in worst.items():
            limit = LIVE_TARGETS[view]
            summary.append(
                f"- {view}, {LIVE_SCENARIOS[k]}: slowest chart data {chart} {fmt_s(stats['median_s'])} median"
                f" (target < {limit:g} s: {_met(stats['median_s'] < limit)})"
            )
    return rows, out, summary


def build_report(args, data, facts, end, config, threads_source, charts, results, versions) -> dict:
    repeat = args.repeat
    stat = "p95_s" if repeat >= 5 else "median_s"
    chart_rows, chart_json, query_rows, query_json = chart_tables(results, charts, repeat)
    compare_rows, compare_json, summary = compare_tables(results, repeat)
    live_rows, live_json, live_summary = live_tables(results, repeat)
    summary += live_summary
    workers = [*results["chart_uncached"].values(), results["cached"], results["extent"], *results["compare"].values()]
    threads_used = sorted({w["threads"] for w in workers if "threads" in w})
    loads = [x for w in workers for x in w.get("loadavg", [])]

    worst = _worst(chart_json, "render_uncached", stat)
    if worst:
        value = worst["render_uncached"][stat]
        summary.append(
            f"- slowest uncached render: {worst['chart']} {worst['view']} {fmt_s(value)} ({stat[:-2]};"
            f" target < 0.5 s: {_met(value < 0.5)})"
        )
    worst = _worst(chart_json, "render_cached", stat)
    if worst:
        value = worst["render_cached"][stat]
        summary.append(
            f"- slowest cached render: {worst['chart']} {worst['view']} {fmt_s(value)} ({stat[:-2]};"
            f" target < 50 ms: {_met(value < 0.05)})"
        )
    peaks = [r["peak_rss"] for r in chart_json if r["peak_rss"]]
    if peaks or results["cached"].get("peak_rss"):
        summary.append(
            f"- dashapp worker peak RSS: per chart up to {fmt_bytes(max(peaks, default=None))}; one worker rendering"
            f" every chart of both windows {fmt_bytes(results['cached'].get('peak_rss'))}"
            " (target < 1 GiB, flat as rows grow)"
        )

    rss_imports = results["cached"].get("rss_after_imports") or next(
        (w["rss_after_imports"] for w in results["chart_uncached"].values() if "rss_after_imports" in w), None
    )
    machine = {
        "cores": os.cpu_count(),
        "duckdb_threads": threads_used,
        "duckdb_threads_source": threads_source,
        "duckdb_memory_limit": config.duckdb_memory_limit,
        "python": platform.python_version(),
        **versions,
        "platform": platform.platform(),
        "load_average_1min_during_run": [min(loads, default=None), max(loads, default=None)],
        "data": str(data),
        "generated": facts.get("generated"),
        "generate_s": facts.get("generate_s"),
        "rows": {t: _table_rows(data, t) for t in ("predictions", "outcomes", "pipeline_runs")},
        "predictions_files": len(prediction_files(data)),
        "day_partitions": facts["day_partitions"],
        "size_on_disk": {"all": _dir_size(data), "predictions": _dir_size(data / "predictions")},
        "window_end": end.isoformat(),
        "repeat": repeat,
        "rss_after_imports_dashapp": rss_imports,
    }
    size = machine["size_on_disk"]
    lines = [
        "## Machine and data",
        f"- machine: {machine['cores']} cores, {machine['platform']}, Python {machine['python']}; 1-min load average"
        f" seen by the workers {min(loads, default=0):.1f}–{max(loads, default=0):.1f} (others' jobs share the box)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- DuckDB threads used: {', '.join(map(str, threads_used))} ({threads_source});"
        f" dashapp memory_limit {config.duckdb_memory_limit}; bare DuckDB: same threads, default memory limit",
        "- rows: " + ", ".join(f"{t} {n:,}" for t, n in machine["rows"].items()),
        f"- data: {data} ({machine['predictions_files']} prediction files, {facts['day_partitions']} day partitions);"
        f" on disk {fmt_bytes(size['all'])}, of which predictions {fmt_bytes(size['predictions'])}"
        + (f"; generated in {facts['generate_s']:.0f} s" if facts.get("generated") else "; reused"),
        f"- windows end at {end:%Y-%m-%d %H:%M} UTC (where the data ends); 7d and 30d before it; auto buckets",
        f"- times: median of {repeat} runs after a warm-up run"
        + (", p95 in brackets" if repeat >= 5 else "")
        + "; first call = the first query on a new connection (opens DuckDB and builds the views)",
        f"- RSS of a dashapp worker after imports, before any query: {fmt_bytes(rss_imports)}",
        "",
        "## Charts (uncached = one Database(cache=None) whose connection stays open; cached = create_app's"
        " FileSystemCache; render = registry.render, incl. figure and coverage line)",
        markdown(
            [
                "chart: queries",
                "view",
                "first call",
                "data uncached",
                "data cached",
                "render uncached",
                "render cached",
                "peak RSS (uncached worker)",
            ],
            chart_rows,
        ),
        "",
        "## A live portal: chart data through create_app's FileSystemCache (dayslices.py)",
        "cold: cache emptied before each call. window moved: each call a window one bucket earlier than the"
        " last, the days it shares with earlier windows cached. new data today: the newest partitions of"
        " predictions and outcomes rewritten before each call, same window.",
        "",
        markdown(["chart", "view", *LIVE_SCENARIOS.values()], live_rows),
        "",
        "## Distinct queries, uncached (samples pooled over the charts that run them)",
        markdown(["query", "used by", "view", "bucket", "rows out", "uncached", "n"], query_rows),
        "",
        "## Against pandas and bare DuckDB (one process per approach; ratios are approach ÷ dashapp)",
        markdown(
            [
                "aggregation",
                "approach",
                "time",
                "of which read",
                "peak RSS",
                "time ÷ dashapp",
                "RSS ÷ dashapp",
                "result",
            ],
            compare_rows,
        ),
        "",
        "## Targets (docs/architecture.md, Performance targets)",
        *summary,
    ]
    return {
        "markdown": "\n".join(lines),
        "json": {
            "machine": machine,
            "charts": chart_json,
            "queries": query_json,
            "cached_worker": {k: v for k, v in results["cached"].items() if k != "charts"},
            "comparison": compare_json,
            "live": live_json,
            "targets": summary,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
