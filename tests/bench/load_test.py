"""Load-test the portal: many users on gunicorn over loopback, cold cache then warm (run by hand: `make load`).

    .venv/bin/python tests/bench/load_test.py [--data data/demo] [--users 50] [--time 60] [--spawn-rate 10]
                                              [--workers 2] [--threads 4] [--locust .venv-load/bin/locust]

1. Capture the mix: a throwaway gunicorn on the data, and headless Chromium opening every page of
   the navigation (its defaults and, where the page has the global filters, the last 30 days), while
   the POST bodies of its Dash callbacks are recorded: exactly what a browser sends, for whatever
   charts the pages have today. The API paths come from the chart registry (JSON and CSV of each
   chart), plus /api/drift and /api/alerts.
2. Start the measured gunicorn (dashapp/gunicorn_conf.py) with a fresh DASHAPP_CACHE_DIR, and run
   locust (tests/bench/load_locustfile.py, in its own venv) twice with the same mix: cold (empty
   results cache, fresh workers) and warm. Users, duration and host are bounded; the host is loopback.
   The alert scheduler runs beside gunicorn (dashapp serve's pair), and two monitors scrape /metrics and
   poll /api/alerts every second; their latency under the load is reported apart.
3. Print, per phase, requests, throughput, p50/p95/p99 and errors by request kind and in total, and
   each worker's RSS sampled from /proc every few seconds (first minute of load against the last).

The load generator shares the machine's cores with the server: on a small host it takes a
noticeable part of them (locust warns when its process is CPU-bound; the warning is shown here).
The OS page cache is warm in both phases (the capture read the files).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from bench_queries import REPO, _median, _proc_status, fmt_bytes, log, markdown

PHASES = ("cold", "warm")
KINDS = ("page", "callback", "api", "total")
RSS_EVERY_S = 3
WINDOW_S = 60  # "first minute" and "last minute" of load for the memory table
LOAD_VENV = REPO / ".venv-load"


def data_rows(data: Path) -> dict[str, int]:
    """Rows per table, from the parquet footers (nothing is scanned)."""
    import pyarrow.parquet as pq

    rows = {}
    for entry in sorted(data.iterdir()):
        files = [entry] if entry.suffix == ".parquet" else sorted(entry.rglob("*.parquet")) if entry.is_dir() else []
        files = [f for f in files if not f.name.startswith((".", "_"))]
        if files:
            rows[entry.name.removesuffix(".parquet")] = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return rows


def page_urls() -> list[str]:
    """Every page in the navigation, with its defaults and, when it has the global filters, the last 30 days."""
    from dashapp.pages import PAGES

    return [page.path + query for page in PAGES for query in ("", "?start=now-30d")[: 2 if page.global_filters else 1]]


def api_paths() -> list[str]:
    from dashapp.charts import REGISTRY

    charts = [f"/api/charts/{chart_id}?format={fmt}" for chart_id in REGISTRY for fmt in ("json", "csv")]
    return [*charts, "/api/drift", "/api/alerts"]


def callback_name(body: dict) -> str:
    """A short name for a callback: the chart a panel callback draws, else its first output."""
    chart = next((s["id"].get("chart") for s in body.get("state", []) if isinstance(s.get("id"), dict)), None)
    return chart or body.get("output", "?").lstrip(".").split("...")[0][:40]


def capture(url: str, paths: list[str]) -> list[dict]:
    """Open each page in headless Chromium and record the callback bodies it POSTs until the network is idle."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

    pages = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        for path in paths:
            bodies = []

            def record(request, bodies=bodies):
                if request.method == "POST" and urlparse(request.url).path == "/_dash-update-component":
                    bodies.append(json.loads(request.post_data))

            page.on("request", record)
            page.goto(url + path, timeout=600_000)
            wait_for_panels(page, bodies)
            page.remove_listener("request", record)
            pages.append({"url": path, "callbacks": [{"name": callback_name(b), "body": b} for b in bodies]})
            log(f"captured {path}: {len(bodies)} callbacks")
        browser.close()
    return pages


def wait_for_panels(page, bodies: list[dict], timeout_s: float = 600) -> None:
    """Wait until every chart card on the page has sent its callback, then for the network to go quiet.

    The network alone is not enough: between two rounds of callbacks (the URL sync, then the
    panels) the renderer can be quiet for longer than Playwright's idle window on a cold server.
    """
    page.wait_for_selector("[data-chart]", timeout=timeout_s * 1000)
    cards = set(page.eval_on_selector_all("[data-chart]", "cards => cards.map(card => card.dataset.chart)"))
    deadline = time.monotonic() + timeout_s
    while not cards <= {callback_name(body) for body in bodies}:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{page.url}: no callback for {sorted(cards - {callback_name(b) for b in bodies})}")
        page.wait_for_timeout(200)
    page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)


class RssSampler(threading.Thread):
    """Every few seconds, the RSS of each child of the gunicorn master: [(seconds, pid, bytes)]."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.samples, self.stopped = master, [], threading.Event()
        self.started_at = time.monotonic()

    def run(self):
        while not self.stopped.wait(RSS_EVERY_S):
            for pid in children(self.master):
                try:
                    rss = _proc_status(pid)["VmRSS"]
                except (OSError, KeyError):  # the worker exited between the listing and the read
                    continue
                self.samples.append((time.monotonic() - self.started_at, pid, rss))

    def stop(self):
        self.stopped.set()
        self.join()


def children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def run_phase(name: str, url: str, mix: Path, run_dir: Path, args) -> dict:
    """One headless locust run; its JSON report (written by load_locustfile.py)."""
    report, log_file = run_dir / f"{name}.json", run_dir / f"{name}-locust.log"
    command = [
        str(args.locust),
        *("-f", str(Path(__file__).with_name("load_locustfile.py"))),
        *("--headless", "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"),
        *("-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.time}s", "--host", url),
        *("--mix", str(mix), "--report", str(report)),
    ]
    log(f"{name} phase: {args.users} users for {args.time} s")
    with log_file.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=args.time + 120)
    if done.returncode != 0 or not report.exists():
        sys.exit(f"locust failed ({done.returncode}):\n{log_file.read_text()[-3000:]}")
    result = json.loads(report.read_text())
    result["cpu_warning"] = any("CPU usage" in line for line in log_file.read_text().splitlines())
    return result


def phase_table(name: str, result: dict) -> str:
    rows = []
    for kind in KINDS:
        row = result["rows"][kind]
        ms = [f"{row[p]:.0f}" for p in ("p50", "p95", "p99")]
        rows.append([kind, str(row["requests"]), f"{row['rps']:.1f}", *ms, str(row["errors"])])
    lines = [f"### {name}", "", markdown(["kind", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"], rows)]
    for error in result["errors"][:5]:
        lines.append(f"- error ×{error['count']} on {error['name']}: {error['error']}")
    if result["reconnects"]:
        lines.append(
            f"- {result['reconnects']} callbacks met a kept-alive connection the server had closed and were sent"
            " again, as a browser does (not counted above)"
        )
    for name, row in sorted(result.get("monitor", {}).items()):
        lines.append(
            f"- {name}: {row['requests']} requests, p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms,"
            f" p99 {row['p99']:.0f} ms, {row['errors']} errors"
        )
    slow = ", ".join(f"{s['name']} {s['p95']:.0f} ms" for s in result["slowest"])
    lines.append(f"- slowest by p95: {slow}")
    if result["cpu_warning"]:
        lines.append("- locust warned that its own process was CPU-bound: the numbers understate the server")
    return "\n".join(lines)


def memory_table(samples: list[tuple[float, int, int]], load_start: float, load_end: float) -> str:
    """Per worker: RSS median over the first and the last minute of load, and its peak."""
    rows = []
    for pid in sorted({pid for _, pid, _ in samples}):
        mine = [(t, rss) for t, p, rss in samples if p == pid and load_start <= t <= load_end]
        if not mine:
            continue
        first = [rss for t, rss in mine if t <= mine[0][0] + WINDOW_S]
        last = [rss for t, rss in mine if t >= mine[-1][0] - WINDOW_S]
        seen = f"{mine[0][0] - load_start:.0f}–{mine[-1][0] - load_start:.0f} s"
        rows.append([str(pid), seen, fmt_bytes(_median(first)), fmt_bytes(_median(last)), fmt_bytes(max(first + last))])
    note = f"RSS every {RSS_EVERY_S} s from /proc; medians over the first and last {WINDOW_S} s each process was seen"
    return "\n".join(
        ["### worker memory", "", note, "", markdown(["pid", "seen", "first min", "last min", "peak"], rows)]
    )


def log_summary(path: Path) -> str:
    """The server log's tracebacks and ERROR lines, with the first few distinct messages."""
    lines = path.read_text().splitlines()
    errors = [line.split(" ", 3)[-1] for line in lines if " ERROR " in line]
    kinds = dict.fromkeys(re.sub(r" \(error id \w+\)", "", error)[:160] for error in errors)
    tracebacks = sum(line.startswith("Traceback") for line in lines)
    head = f"- server log ({path}): {tracebacks} tracebacks, {len(errors)} ERROR lines"
    return "\n".join([head, *(f"  - {kind}" for kind in list(kinds)[:3])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "demo")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--time", type=int, default=60, help="seconds per phase")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--locust", type=Path, default=LOAD_VENV / "bin" / "locust")
    parser.add_argument(
        "--hosts", type=int, default=1, help="gunicorn servers; 2 or more share one Redis behind Debian's nginx"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 500 or not 1 <= args.time <= 900:
        parser.error("--users must be 1-500 and --time 1-900 s: the run is bounded")
    if not args.locust.exists():
        parser.error(f"{args.locust} is missing: `make load` creates .venv-load with locust")
    data = args.data.resolve()
    sys.path.insert(0, str(REPO))
    from tests.browser.server import Server

    if args.hosts < 1 or args.hosts > 4:
        parser.error("--hosts must be 1-4")
    run_dir = Path(tempfile.mkdtemp(prefix="dashapp-load-"))
    env = {"DASHAPP_WORKERS": str(args.workers), "DASHAPP_THREADS": str(args.threads)}
    capture_server = Server(data, run_dir / "capture-cache", **env).wait(timeout=120)
    try:
        pages = capture(capture_server.url, page_urls())
    finally:
        capture_server.stop()
    mix = run_dir / "mix.json"
    mix.write_text(json.dumps({"pages": pages, "api": api_paths()}, indent=1))

    rows = data_rows(data)
    size = sum(f.stat().st_size for f in data.rglob("*.parquet"))
    print(f"## Load test: {args.users} users, {args.time} s per phase, spawn {args.spawn_rate:g}/s, loopback\n")
    print(f"- gunicorn: {args.workers} workers × {args.threads} threads (gthread), {os.cpu_count()} cores")
    print(f"- data: {data}: {rows.get('predictions', 0):,} prediction rows, {sum(rows.values()):,} rows in")
    print(f"  {len(rows)} tables, {fmt_bytes(size)} of parquet")
    calls = sum(len(p["callbacks"]) for p in pages)
    print(f"- mix: {len(pages)} page URLs ({calls} callbacks captured from Chromium), {len(api_paths())} API paths")
    print(f"- run folder (mix, locust logs, gunicorn log): {run_dir}\n")

    with serving(data, run_dir, env, args.hosts) as (url, servers):
        sampler = RssSampler(servers[0].process.pid)
        sampler.start()
        try:
            load_start = time.monotonic() - sampler.started_at
            for name in PHASES:
                print(phase_table(f"{name} cache", run_phase(name, url, mix, run_dir, args)), "\n", flush=True)
            load_end = time.monotonic() - sampler.started_at
        finally:
            sampler.stop()
    print(memory_table(sampler.samples, load_start, load_end) + (" (the first host)" if args.hosts > 1 else ""))
    for server in servers:
        print("\n" + log_summary(server.log))
    return 0


@contextmanager
def serving(data: Path, run_dir: Path, env: dict, hosts: int):
    """The measured portal: one gunicorn with the alert scheduler beside it, as `dashapp serve` runs them (/metrics
    and /api/alerts read its store); or `hosts` of them, each with a cache folder of its own, sharing one
    redis-server (results cache, alert store) behind nginx, which spreads the requests over them."""
    from tests.browser.server import Nginx, RedisServer, Server, free_port

    if hosts == 1:
        server = Server(data, run_dir / "cache", scheduler=True, **env).wait(timeout=600)
        try:
            yield server.url, [server]
        finally:
            server.stop()
        return
    redis_server = RedisServer(run_dir / "redis").start()
    env = env | {
        "DASHAPP_CACHE_REDIS_URL": redis_server.url,
        "DASHAPP_STATE_REDIS_URL": redis_server.url.replace("/0", "/1"),
    }
    servers = [Server(data, run_dir / f"cache-{n}", scheduler=n == 0, **env) for n in range(hosts)]
    port = free_port()
    upstream = "".join(f"        server 127.0.0.1:{server.port};\n" for server in servers)
    nginx = Nginx(
        run_dir / "nginx",
        f"""    upstream dashapp {{
{upstream}        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://dashapp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
        }}
    }}""",
        port,
        connections=4096,  # hundreds of users, each with connections of its own, and as many to the hosts
    )
    try:
        for server in servers:
            server.wait(timeout=600)
        nginx.wait()
        print(f"- {hosts} hosts behind nginx ({nginx.url}), one redis-server for the cache and the alert store\n")
        yield nginx.url, servers
    finally:
        nginx.stop()
        for server in servers:
            server.stop()
        redis_server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
