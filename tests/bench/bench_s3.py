"""Logs on object storage, measured (run by hand): the 30-day Operations view served from moto's S3 API server
against the same data on local disk, in one run.

    .venv/bin/python tests/bench/bench_s3.py [--data data/bench-10000000] [--repeat 5]

The data set is put once into a moto_server on loopback (it keeps objects in memory). Two gunicorns serve it,
two workers each as the browser tests run them: one with DASHAPP_DATA_DIR=s3://bench/logs and the standard AWS
variables, one with the folder. The view is every chart of /operations for the 30 days before the data's end,
asked at once through the API (format=json), as a browser asks for a page's panels; its time is until the last
answer. Cold: the results cache emptied before the view (DuckDB's connections, views and file footers stay, as
in a running portal). Cached: the same view asked again. The servers take turns, so load from other jobs falls
on both. Medians of --repeat, after one unmeasured view per server. Each chart's CSV is compared between the
two servers at the end.

moto is a Python server on the same cores, not S3 over a network: the ratio says what reading through s3fs and
DuckDB's fsspec bridge costs here, not what a real bucket's latency adds. Compare ratios of one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from bench_queries import REPO, _median, demo_facts, fmt_s, log, markdown

sys.path.insert(0, str(REPO))
from tests.browser.server import MotoServer, Server, fetch  # noqa: E402

PAGE = "/operations"
DAYS = 30


def view(server: Server, charts: list[str], query: str) -> float:
    """Seconds until every chart of the view has answered, all asked at once."""

    def ask(chart: str) -> None:
        status, body = fetch(f"{server.url}/api/charts/{chart}?format=json&{query}", timeout=300)
        if status != 200:
            raise SystemExit(f"{chart} answered {status} from {server.url}: {body[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(charts)) as pool:
        list(pool.map(ask, charts))
    return time.perf_counter() - started


def empty_results(cache: Path) -> None:
    """Empty the results cache's folder (the folder stays: FileSystemCache makes it at start)."""
    for entry in (cache / "results").iterdir():
        entry.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "bench-10000000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from dashapp.charts import REGISTRY

    facts = demo_facts(args.data)
    if facts is None:
        raise SystemExit(f"no demo at {args.data}: make one with `dashapp demo --out {args.data} --rows 10000000`")
    end = facts["last_ts"].replace(second=0, microsecond=0) + timedelta(minutes=1)
    query = f"start={(end - timedelta(days=DAYS)).isoformat()}&end={end.isoformat()}"
    charts = [chart for chart, spec in REGISTRY.items() if spec.page == PAGE]
    size = sum(p.stat().st_size for p in args.data.rglob("*.parquet"))
    log(f"{len(charts)} charts of {PAGE}, {DAYS} days to {end}; {facts['rows']:,} predictions, {size / 2**20:.0f} MiB")

    scratch = Path(tempfile.mkdtemp(prefix="dashapp-bench-s3-"))
    moto = MotoServer(scratch / "moto").start()
    servers: dict[str, Server] = {}
    try:
        started = time.perf_counter()
        url = moto.upload(args.data, "bench", "logs")
        log(f"uploaded to {url} in {time.perf_counter() - started:.1f} s")
        # A busy machine makes a cold view slow, not wrong: no query is stopped at the usual 20 s deadline.
        slow_ok = {"DASHAPP_QUERY_TIMEOUT": "300"}
        for name, data, env in (("local disk", args.data, {}), ("S3 (moto)", url, moto.env)):
            servers[name] = Server(data, scratch / f"cache-{len(servers)}", **slow_ok, **env).wait(timeout=300)
        times = {name: {"cold": [], "cached": []} for name in servers}
        for round_ in range(args.repeat + 1):
            for name, server in servers.items():
                empty_results(Path(server.environ["DASHAPP_CACHE_DIR"]))
                cold = view(server, charts, query)
                cached = view(server, charts, query)
                if round_:
                    times[name]["cold"].append(cold)
                    times[name]["cached"].append(cached)
                log(f"round {round_} {name}: cold {cold:.2f} s, cached {cached:.3f} s{'' if round_ else ' (warm-up)'}")
        local, remote = servers.values()
        equal = [
            c
            for c in charts
            if fetch(f"{local.url}/api/charts/{c}?format=csv&{query}", timeout=300)
            == fetch(f"{remote.url}/api/charts/{c}?format=csv&{query}", timeout=300)
        ]
    finally:
        for server in servers.values():
            server.stop()
        moto.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    rows = []
    for kind, label in (("cold", "cold (results cache emptied)"), ("cached", "cached")):
        on_disk, on_s3 = _median(times["local disk"][kind]), _median(times["S3 (moto)"][kind])
        rows.append([label, fmt_s(on_disk), fmt_s(on_s3), f"{on_s3 / on_disk:.2f}×"])
    view_name = f"{PAGE}, {DAYS} days, {len(charts)} charts (median of {args.repeat})"
    headers = [view_name, "local disk", "S3 (moto)", "ratio"]
    print(markdown(headers, rows), flush=True)
    print(f"\nCSV equal on both servers: {len(equal)} of {len(charts)} charts", flush=True)
    return 0 if len(equal) == len(charts) else 1


if __name__ == "__main__":
    sys.exit(main())
