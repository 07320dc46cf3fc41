"""Benchmark the Backtests page: 10 runs of 10 years out of 200, uncached and cached (run by hand).

    .venv/bin/python tests/bench/bench_backtests.py [--runs 200] [--years 10] [--shown 10] [--repeat 5]
                                                    [--json tests/artifacts/bench-backtests.json]

Writes (or reuses) data/bench-backtests-<runs>x<years>y: backtest_runs, backtest_returns (one row
per run and trading day, with benchmark and exposure), trades in three symbols and their market
closes. Each approach runs in its own process, so its peak RSS (VmHWM) is its own:

- dashapp page, cold cache: every backtest chart rendered (data + figure) for the selected runs over
  their whole span through a FileSystemCache emptied before each visit, as a first visitor meets
  them (the panels share the cleaned series and the query result within the visit);
- dashapp page, no cache at all: the same on a Database without a cache (each panel on its own);
- dashapp page, cached: the same through a FileSystemCache after one visit;
- dashapp metrics, uncached: the metrics table's data alone (SQL, cleaning, QuantStats);
- pandas, naive: read the whole backtest_returns file, filter the runs, then the same QuantStats
  metrics per run (drawdown periods through quantstats.stats.drawdown_details);
- the browser (with --browser): the page under gunicorn (2 workers) in headless Chromium, timed
  from navigation until every panel's footer is drawn, with the server's cache emptied before
  each visit and then warm: what a trader waits for.

The metric values of dashapp and pandas are checked equal before times are reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_browser import page_loads
from bench_browser import rows as browser_rows
from bench_queries import REPO, RESULT_MARK, _median, _percentile, _proc_status, _timed, fmt_bytes, fmt_s, log, markdown

SYMBOLS = ("AAPL", "MSFT", "NVDA")


def ensure_data(folder: Path, runs: int, years: int) -> dict:
    """Write the synthetic backtests once; later runs reuse them."""
    import numpy as np
    import pandas as pd

    done = folder / "_DONE"
    days = pd.bdate_range(end="2026-11-20", periods=252 * years)
    if done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    benchmark = rng.normal(0.0004, 0.011, len(days))
    closes = {s: 100 * np.cumprod(1 + rng.normal(0.0003, 0.016, len(days))) for s in SYMBOLS}
    run_ids = [f"bt-agent{i % 20:02d}-v{i // 20}.0" for i in range(runs)]
    returns, trades = [], []
    for run_id in run_ids:
        beta, edge, vol = rng.uniform(0, 0.8), rng.normal(0.0002, 0.0002), rng.uniform(0.005, 0.012)
        strategy = beta * benchmark + rng.normal(edge, vol, len(days))
        returns.append(
            pd.DataFrame(
                {
                    "run_id": run_id,
                    "ts": days.date,
                    "strategy_return": strategy,
                    "benchmark_return": benchmark,
                    "exposure": rng.uniform(0.3, 1.0, len(days)),
                }
            )
        )
        for symbol in SYMBOLS:
            held = np.sign(rng.normal(size=len(days)).cumsum())
            change = np.diff(np.concatenate([[0.0], held]))
            action = np.where(change > 0, "buy", np.where(change < 0, "sell", "hold"))
            trades.append(
                pd.DataFrame(
                    {
                        "run_id": run_id,
                        "ts": (days + pd.Timedelta(hours=20)).as_unit("us"),
                        "symbol": symbol,
                        "action": action,
                        "quantity": np.abs(change) * 100,
                        "price": closes[symbol],
                    }
                )
            )
    runs_table = pd.DataFrame(
        {
            "run_id": run_ids,
            "agent": [r.split("-")[1] for r in run_ids],
            "agent_version": [r.split("-")[2] for r in run_ids],
            "kind": "backtest",
            "created_at": pd.Timestamp("2026-11-21") - pd.to_timedelta(range(runs), unit="h"),
        }
    )
    pd.concat(returns).to_parquet(folder / "backtest_returns.parquet", index=False)
    pd.concat(trades).to_parquet(folder / "trades.parquet", index=False)
    runs_table.to_parquet(folder / "backtest_runs.parquet", index=False)
    pd.concat(pd.DataFrame({"ts": days.date, "symbol": s, "close": closes[s]}) for s in SYMBOLS).to_parquet(
        folder / "market.parquet", index=False
    )
    facts = {"runs": runs, "days": len(days), "rows": runs * len(days), "trade_rows": runs * len(days) * len(SYMBOLS)}
    done.write_text(json.dumps(facts))
    return facts


# -- workers ----------------------------------------------------------------------------------------


def work_dashapp(task: dict) -> dict:
    from flask_caching.backends import FileSystemCache

    from dashapp.charts import REGISTRY, render
    from dashapp.config import Config
    from dashapp.db import Database

    cache = FileSystemCache(task["cache_dir"], default_timeout=0) if task["cached"] else None
    db = Database(Config.from_env(data_dir=Path(task["data"])), cache=cache)
    args = {"run": task["run_ids"]}
    charts = [spec for spec in REGISTRY.values() if spec.page == "/backtests"] if task["part"] == "page" else [
        REGISTRY["backtest.metrics"]]  # fmt: skip

    def once():
        if task["cold"]:
            cache.clear()
        return {spec.id: render(spec, args, db) for spec in charts}

    first, rendered = _timed(once)
    samples = [_timed(once)[0] for _ in range(task["repeat"])]
    per_chart = {}
    for spec in charts:
        per_chart[spec.id] = _median([_timed(lambda s=spec: render(s, args, db))[0] for _ in range(3)])
    metrics = rendered["backtest.metrics"].data.set_index("metric")
    values = {run_id: {k: metrics.loc[k, run_id] for k in ("sharpe", "max_drawdown", "longest_drawdown_days")}
              for run_id in task["run_ids"]}  # fmt: skip
    return {"first_call_s": first, "samples": samples, "per_chart": per_chart, "values": values}


def work_pandas(task: dict) -> dict:
    import pandas as pd

    from dashapp.backtest.metrics import qs  # QuantStats with the same matplotlib setup

    def once():
        frame = pd.read_parquet(Path(task["data"]) / "backtest_returns.parquet")
        frame = frame[frame["run_id"].isin(task["run_ids"])]
        out = {}
        for run_id, rows in frame.groupby("run_id"):
            r = rows.set_index(pd.DatetimeIndex(rows["ts"]))["strategy_return"]
            b = rows.set_index(pd.DatetimeIndex(rows["ts"]))["benchmark_return"]
            s = qs.stats
            details = s.drawdown_details(s.to_drawdown_series(r))
            out[run_id] = {
                "sharpe": s.sharpe(r),
                "max_drawdown": s.max_drawdown(r),
                "longest_drawdown_days": details["days"].max(),
                "others": [s.comp(r), s.cagr(r), s.volatility(r), s.sortino(r), s.calmar(r), s.win_rate(r), s.best(r),
                           s.worst(r), s.value_at_risk(r), s.cvar(r), s.skew(r), s.kurtosis(r), s.greeks(r, b),
                           s.exposure(r)],
            }  # fmt: skip
        return out

    first, values = _timed(once)
    samples = [_timed(once)[0] for _ in range(task["repeat"])]
    values = {k: {m: v[m] for m in ("sharpe", "max_drawdown", "longest_drawdown_days")} for k, v in values.items()}
    return {"first_call_s": first, "samples": samples, "values": values}


def worker_main(task_json: str) -> None:
    task = json.loads(task_json)
    result = {"dashapp": work_dashapp, "pandas": work_pandas}[task["kind"]](task)
    result["peak_rss"] = _proc_status()["VmHWM"]
    print(RESULT_MARK + json.dumps(result, default=float), flush=True)


def run(task: dict) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(task)]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    log(f"worker failed (exit {proc.returncode}): " + " | ".join(tail))
    return {"error": " | ".join(tail)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--shown", type=int, default=10, help="runs selected on the page")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=REPO / "tests" / "artifacts" / "bench-backtests.json")
    parser.add_argument("--browser", action="store_true", help="also time page loads in headless Chromium")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return 0

    data = REPO / "data" / f"bench-backtests-{args.runs}x{args.years}y"
    log(f"data {data} ...")
    facts = ensure_data(data, args.runs, args.years)
    import pandas as pd

    run_ids = sorted(pd.read_parquet(data / "backtest_runs.parquet")["run_id"])[: args.shown]
    base = {"data": str(data), "run_ids": run_ids, "repeat": args.repeat}
    results = {}
    with tempfile.TemporaryDirectory(prefix="dashapp-bench-bt-") as scratch:
        plan = {
            "page_cold": {"kind": "dashapp", "part": "page", "cached": True, "cold": True, "cache_dir": scratch + "/c"},
            "page_uncached": {"kind": "dashapp", "part": "page", "cached": False, "cold": False, "cache_dir": ""},
            "page_cached": {
                "kind": "dashapp",
                "part": "page",
                "cached": True,
                "cold": False,
                "cache_dir": scratch + "/w",
            },
            "metrics_uncached": {"kind": "dashapp", "part": "metrics", "cached": False, "cold": False, "cache_dir": ""},
            "pandas_metrics": {"kind": "pandas"},
        }
        for name, task in plan.items():
            log(f"{name} ...")
            results[name] = run(base | task)

    if args.browser:
        log("browser visits ...")
        url_query = "?" + "&".join(f"run={r}" for r in run_ids)
        results["browser"] = page_loads(data, "/backtests", url_query, args.repeat)

    worst = 0.0
    for run_id, got in results["metrics_uncached"].get("values", {}).items():
        for key, value in got.items():
            want = results["pandas_metrics"]["values"][run_id][key]
            worst = max(worst, abs(value - want) / max(abs(want), 1e-12))
    labels = {
        "page_cold": f"dashapp: every Backtests chart, {args.shown} runs, cache emptied before each visit",
        "page_uncached": "dashapp: every Backtests chart, no cache at all (each panel alone)",
        "page_cached": "dashapp: every Backtests chart, cached",
        "metrics_uncached": "dashapp: the metrics table only, nothing cached",
        "pandas_metrics": "pandas: read backtest_returns, filter, QuantStats metrics",
    }
    metrics_median = _median(results["metrics_uncached"].get("samples", []))
    rows = []
    for name, label in labels.items():
        r = results[name]
        samples = r.get("samples", [])
        median = _median(samples)
        ratio = f"{median / metrics_median:.1f}×" if name == "pandas_metrics" and median and metrics_median else ""
        shown = f"{fmt_s(median)} (p95 {fmt_s(_percentile(samples, 95))})" if samples else r.get("error", "—")
        rows.append([label, shown, fmt_bytes(r.get("peak_rss")), ratio])
    rows += [[label, shown, "", ""] for label, shown in browser_rows("/backtests", results.get("browser", {}))]
    per_chart = results["page_uncached"].get("per_chart", {})  # each panel alone, no cache
    lines = [
        f"## Backtests: {args.shown} of {facts['runs']} runs, {facts['days']:,} trading days each "
        f"({facts['rows']:,} return rows, {facts['trade_rows']:,} trade rows)",
        f"- metrics equal to pandas + QuantStats: largest relative difference {worst:.1e}",
        f"- times: median of {args.repeat} after a first call",
        "",
        markdown(["approach", "time", "peak RSS", "÷ dashapp metrics"], rows),
        "",
        markdown(["chart (uncached)", "median of 3"], [[c, fmt_s(t)] for c, t in sorted(per_chart.items())]),
    ]
    print("\n".join(lines))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"facts": facts, "results": results}, indent=2, default=float))
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
