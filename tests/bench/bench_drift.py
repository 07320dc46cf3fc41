"""Benchmark drift for every input feature of a window against the reference (run by hand).

    .venv/bin/python tests/bench/bench_drift.py [--rows 10000000] [--days 30] [--window-days 7] [--repeat 5]
                                                [--evidently-python PATH] [--evidently-repeat 1]
                                                [--json tests/artifacts/bench-drift.json]

Reuses (or writes) the demo data set of bench_queries.py. Each approach runs in its own process,
so its peak RSS (VmHWM) is its own:

- dashapp, uncached: drift/engine.compare on a Database without a cache (every statistic: PSI,
  chi2, JS and the exact KS and Wasserstein come from the same per-value counts);
- dashapp, live: through a FileSystemCache, with the newest partitions of predictions and outcomes
  rewritten before each call (a new file landed): today is counted again, the past days are not;
- dashapp, cached: the same through a FileSystemCache, after one call that fills it;
- pandas + scipy: read the features' columns of the window (dt filter) and of the reference, then
  PSI/chi2/JS (numpy, scipy), and separately KS and Wasserstein (scipy.stats.ks_2samp,
  wasserstein_distance), each timed with its own read, as a notebook would run them; and all of
  them after one read, the same work dashapp does;
- Evidently (when --evidently-python names an interpreter that has it, installed outside the
  project's requirements): Report([DataDriftPreset()]).run(current, reference) on the same frames.

dashapp's PSI and KS are checked equal to the pandas/scipy ones before any time is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from bench_queries import (
    REPO,
    RESULT_MARK,
    _median,
    _percentile,
    _proc_status,
    _timed,
    ensure_demo,
    fmt_bytes,
    fmt_s,
    log,
    markdown,
    touch_newest_partitions,
)

APPROACHES = {
    "dashapp": "dashapp, uncached (all statistics)",
    "dashapp_live": "dashapp, past days cached, new data today",
    "dashapp_cached": "dashapp, cached",
    "pandas_psi": "pandas read + numpy/scipy PSI, chi², JS",
    "pandas_ks": "pandas read + scipy KS and Wasserstein",
    "pandas_all": "pandas read + every statistic dashapp gives (one read)",
    "evidently": "Evidently DataDriftPreset (read + report)",
}


# -- workers ----------------------------------------------------------------------------------------


def _features(data: Path) -> dict[str, str]:
    from dashapp.config import Config
    from dashapp.db import Database
    from dashapp.drift.engine import feature_kinds

    return feature_kinds(Database(Config.from_env(data_dir=data)).columns("predictions"))


def _read(data: Path, start: datetime, end: datetime, columns: list[str]):
    """What a notebook does: the window's feature columns (dt filter, then ts) and the reference's."""
    import pandas as pd

    days = [("dt", ">=", start.date().isoformat()), ("dt", "<=", end.date().isoformat())]
    current = pd.read_parquet(data / "predictions", columns=["ts", *columns], filters=days)
    current = current[(current["ts"] >= start) & (current["ts"] < end)].drop(columns="ts")
    return pd.read_parquet(data / "reference.parquet", columns=columns), current


def work_dashapp(task: dict) -> dict:
    from flask_caching.backends import FileSystemCache

    from dashapp.config import Config
    from dashapp.db import Database
    from dashapp.drift.engine import Window, compare

    cache = FileSystemCache(task["cache_dir"], default_timeout=0) if task["cached"] else None
    db = Database(Config.from_env(data_dir=Path(task["data"])), cache=cache)
    window = Window(datetime.fromisoformat(task["start"]), datetime.fromisoformat(task["end"]))
    first, results = _timed(lambda: compare(db, window))

    def once():
        if task["live"]:
            touch_newest_partitions(Path(task["data"]))
        return compare(db, window)

    samples = [_timed(once)[0] for _ in range(task["repeat"])]
    values = {r.feature: {"psi": r.psi, "ks": r.ks_statistic, "status": r.status} for r in results}
    return {"first_call_s": first, "samples": samples, "values": values}


def work_pandas(task: dict) -> dict:
    import numpy as np
    from scipy import stats
    from scipy.spatial import distance

    data, kinds = Path(task["data"]), task["kinds"]
    start, end = datetime.fromisoformat(task["start"]), datetime.fromisoformat(task["end"])

    def psi(ref_counts, cur_counts) -> float:
        ref = np.clip(ref_counts / ref_counts.sum(), 0.0001, None)
        cur = np.clip(cur_counts / cur_counts.sum(), 0.0001, None)
        return float(np.sum((cur - ref) * np.log(cur / ref)))

    def psi_chi2_js(reference, current) -> dict:
        out = {}
        for feature, kind in kinds.items():
            ref, cur = reference[feature].dropna(), current[feature].dropna()
            if kind == "numeric":
                edges = np.unique(np.quantile(ref.to_numpy(float), np.arange(1, 10) / 10))
                bins = [np.bincount(np.digitize(x.to_numpy(float), edges, right=True), minlength=len(edges) + 1)
                        for x in (ref, cur)]  # fmt: skip
                out[feature] = {"psi": psi(*bins)}
            else:
                table = ref.astype(str).value_counts().to_frame("ref").join(
                    cur.astype(str).value_counts().rename("cur"), how="outer"
                ).fillna(0)  # fmt: skip
                chi2 = stats.chi2_contingency(table.T.to_numpy())
                js = distance.jensenshannon(table["ref"], table["cur"])
                out[feature] = {
                    "psi": psi(table["ref"].to_numpy(), table["cur"].to_numpy()),
                    "chi2": chi2.statistic,
                    "js": js,
                }
        return out

    def ks_w(reference, current) -> dict:
        out = {}
        for feature, kind in kinds.items():
            if kind == "numeric":
                ref, cur = reference[feature].dropna().to_numpy(float), current[feature].dropna().to_numpy(float)
                out[feature] = {"ks": float(stats.ks_2samp(ref, cur, method="asymp").statistic),
                                "w": float(stats.wasserstein_distance(ref, cur))}  # fmt: skip
        return out

    def everything(reference, current) -> dict:
        out = psi_chi2_js(reference, current)
        for feature, values in ks_w(reference, current).items():
            out[feature] |= values
        return out

    compute = {"psi": psi_chi2_js, "ks": ks_w, "all": everything}[task["part"]]

    def once():
        reference, current = _read(data, start, end, list(kinds))
        return compute(reference, current)

    first, values = _timed(once)
    samples = [_timed(once)[0] for _ in range(task["repeat"])]
    return {"first_call_s": first, "samples": samples, "values": values}


EVIDENTLY_SCRIPT = """
import json, sys, time
from datetime import datetime
from pathlib import Path
sys.path.insert(0, {bench!r})
from bench_drift import _read
from bench_queries import _proc_status
from evidently import Report
from evidently.presets import DataDriftPreset
task = json.loads({task!r})
samples = []
for _ in range(task["repeat"]):
    started = time.perf_counter()
    reference, current = _read(Path(task["data"]), datetime.fromisoformat(task["start"]),
                               datetime.fromisoformat(task["end"]), task["columns"])
    Report([DataDriftPreset()]).run(current, reference)
    samples.append(time.perf_counter() - started)
print({mark!r} + json.dumps({{"samples": samples, "peak_rss": _proc_status()["VmHWM"]}}))
"""


WORKERS = {"dashapp": work_dashapp, "pandas": work_pandas}


def worker_main(task_json: str) -> None:
    task = json.loads(task_json)
    result = WORKERS[task["kind"]](task)
    result["peak_rss"] = _proc_status()["VmHWM"]
    print(RESULT_MARK + json.dumps(result, default=float), flush=True)


def run(command: list[str]) -> dict:
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    log(f"worker failed (exit {proc.returncode}): " + " | ".join(tail))
    return {"error": " | ".join(tail)}


# -- the parent -----------------------------------------------------------------------------------


def check(dashapp: dict, pandas_psi: dict, pandas_ks: dict) -> str:
    """Compare dashapp's PSI and KS with pandas/scipy's, feature by feature."""
    worst = 0.0
    for feature, got in dashapp.get("values", {}).items():
        for key, other in (("psi", pandas_psi), ("ks", pandas_ks)):
            want = other.get("values", {}).get(feature, {}).get(key)
            if want is not None and got[key] is not None:
                worst = max(worst, abs(got[key] - want))
    return f"equal (largest difference {worst:.1e})" if worst < 1e-9 else f"DIFFERENT by up to {worst:.1e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30, help="days of the demo data set")
    parser.add_argument("--window-days", type=int, default=7, help="the window compared with the reference")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--evidently-python", type=Path, help="a Python interpreter with evidently installed")
    parser.add_argument("--evidently-repeat", type=int, default=1, help="Evidently runs (minutes each)")
    parser.add_argument("--json", type=Path, default=REPO / "tests" / "artifacts" / "bench-drift.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return 0

    data = (REPO / "data" / f"bench-{args.rows}").resolve()
    facts = ensure_demo(data, args.rows, args.days)
    end = facts["last_ts"].replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(days=args.window_days)
    kinds = {f: k for f, k in _features(data).items() if not k.startswith("unsupported")}
    base = {"data": str(data), "start": start.isoformat(), "end": end.isoformat(), "repeat": args.repeat}
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="dashapp-bench-drift-") as scratch:
        for name, task in (
            ("dashapp", {"kind": "dashapp", "cached": False, "live": False, "cache_dir": ""}),
            ("dashapp_live", {"kind": "dashapp", "cached": True, "live": True, "cache_dir": scratch + "/live"}),
            ("dashapp_cached", {"kind": "dashapp", "cached": True, "live": False, "cache_dir": scratch + "/cached"}),
            ("pandas_psi", {"kind": "pandas", "part": "psi", "kinds": kinds}),
            ("pandas_ks", {"kind": "pandas", "part": "ks", "kinds": kinds}),
            ("pandas_all", {"kind": "pandas", "part": "all", "kinds": kinds}),
        ):
            log(f"{name} ...")
            results[name] = run([*me, json.dumps(base | task)])
    if args.evidently_python:
        log(f"evidently x{args.evidently_repeat} (minutes) ...")
        task = base | {"repeat": args.evidently_repeat, "columns": list(kinds)}
        script = EVIDENTLY_SCRIPT.format(bench=str(Path(__file__).parent), task=json.dumps(task), mark=RESULT_MARK)
        results["evidently"] = run([str(args.evidently_python), "-c", script])

    dash = _median(results["dashapp"].get("samples", []))
    rows = []
    for name, label in APPROACHES.items():
        r = results.get(name)
        if not r:
            continue
        median = _median(r.get("samples", []))
        p95 = _percentile(r.get("samples", []), 95) if len(r.get("samples", [])) >= 5 else None
        ratio = f"{median / dash:.1f}×" if median and dash else "—"
        shown = fmt_s(median) + (f" (p95 {fmt_s(p95)})" if p95 else "") if median else r.get("error", "—")
        rows.append([label, shown, len(r.get("samples", [])), fmt_bytes(r.get("peak_rss")), ratio])
    verdict = check(results["dashapp"], results["pandas_psi"], results["pandas_ks"])
    lines = [
        f"## Drift: {len(kinds)} features, {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC against the reference",
        f"- data: {data} ({facts['rows']:,} prediction rows); times: median of the runs after a first call",
        f"- dashapp vs pandas/scipy: PSI and KS {verdict}",
        "",
        markdown(["approach", "time", "runs", "peak RSS", "÷ dashapp uncached"], rows),
    ]
    print("\n".join(lines))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"window": [start.isoformat(), end.isoformat()], "results": results}, indent=2))
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
