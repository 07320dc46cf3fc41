"""Time pages in headless Chromium under gunicorn until every panel is drawn (run by hand).

    .venv/bin/python tests/bench/bench_browser.py [--data data/bench-10000000] [--page /sentiment ...]
                                                  [--query "?start=now-7d"] [--repeat 5]

What a person waits for: from navigation until every panel's footer says "data through". Two
workers, as tests/browser runs them. Cold: the server's results cache emptied before each visit
(its DuckDB connections stay open); warm: the same visit again. The panels of one page load
concurrently, so a cold visit also measures how the workers share one computation (singleflight.py).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_queries import REPO, _median, _percentile, fmt_s, log


def page_loads(data: Path, path: str, query: str = "", repeat: int = 5) -> dict[str, list[float]]:
    """Seconds until every panel of `path` is drawn: {"cold": [...], "warm": [...]}."""
    from playwright.sync_api import expect, sync_playwright

    sys.path.insert(0, str(REPO))
    from dashapp.charts import REGISTRY
    from tests.browser.server import Server

    charts = [cid for cid, spec in REGISTRY.items() if spec.page == path]
    out = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="dashapp-bench-browser-") as scratch:
        cache = Path(scratch) / "cache"
        server = Server(data, cache).wait()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1440, "height": 1000})

                def visit() -> float:
                    started = time.perf_counter()
                    page.goto(server.url + path + query)
                    for chart_id in charts:
                        footer = page.locator(f"[data-chart='{chart_id}'] .card-footer")
                        expect(footer).to_contain_text("data through", timeout=120_000)
                    return time.perf_counter() - started

                visit()  # warm-up: both workers' connections and views
                for kind in ("cold", "warm"):
                    for _ in range(repeat):
                        if kind == "cold":  # empty the folder, keep it: FileSystemCache only makes it at start
                            for entry in (cache / "results").iterdir():
                                entry.unlink()
                        out[kind].append(visit())
                browser.close()
        finally:
            server.stop()
    return out


def rows(path: str, loads: dict[str, list[float]]) -> list[list[str]]:
    """Markdown table rows: the page, cold and warm medians with p95."""
    label = {"cold": "cache emptied before each visit", "warm": "cached"}
    out = []
    for kind, samples in loads.items():
        if samples:
            shown = f"{fmt_s(_median(samples))} (p95 {fmt_s(_percentile(samples, 95))})"
            out.append([f"browser: {path} until every panel is drawn, {label[kind]}", shown])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "bench-10000000")
    parser.add_argument("--page", action="append", help="page path; repeat for several (default /sentiment)")
    parser.add_argument("--query", default="", help="query string for every page, e.g. ?start=now-30d")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print("| page load | median (p95) |\n|---|---|")
    for path in args.page or ["/sentiment"]:
        log(f"browser visits {path} ...")
        for row in rows(path, page_loads(args.data, path, args.query, args.repeat)):
            print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
