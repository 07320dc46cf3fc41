"""Time pages in headless Chromium under gunicorn until every panel is drawn (run by hand).

    .venv/bin/python tests/bench/bench_browser.py [--data data/bench-10000000] [--page /sentiment ...]
                                                  [--query "?start=now-7d"] [--repeat 5]
    .venv/bin/python tests/bench/bench_browser.py --baseline a9dcf57 [--data ...] [--page ...] [--repeat 5]

What a person waits for: from navigation until every panel's footer says "data through". Two
workers, as tests/browser runs them. Cold: the server's results cache emptied before each visit
(its DuckDB connections stay open); warm: the same visit again. The panels of one page load
concurrently, so a cold visit also measures how the workers share one computation (singleflight.py).

--baseline <git rev>: side by side, warm. That commit is checked out in a temporary git worktree and
served beside this tree (each its own gunicorn and cache); every page (all by default) is loaded in
turn from one and the other, alternating which goes first, and the table gives each one's median of
--repeat warm loads and their ratio. Both servers share the machine, so run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
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


# True once every listed panel's footer says its data is drawn (one poll per frame, in the page itself).
PANELS_DRAWN = """(charts) => charts.every((chart) => {
    const footer = document.querySelector(`[data-chart='${chart}'] .card-footer`);
    return footer !== null && footer.textContent.includes("data through");
})"""


def chart_ids_by_page(root: Path) -> dict[str, list[str]]:
    """Each page's chart ids in the checkout at `root` (a baseline may have other charts), read in a subprocess."""
    script = (
        "import json; from dashapp.charts import REGISTRY; from dashapp.pages import PAGES; "
        "print(json.dumps({p.path: [c for c, s in REGISTRY.items() if s.page == p.path] for p in PAGES}))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def baseline_tree(rev: str):
    """The commit `rev` checked out in a temporary git worktree of this repository, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="dashapp-bench-baseline-") as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev], check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)


def warm_up(visit, name: str, path: str, tries: int = 3) -> None:
    """Fill the results cache and warm both workers. A cold panel the server would not draw just then (busy, too
    slow: its footer says so) is drawn on a later visit, once the other panels' results are cached."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        try:
            visit(name, path, timeout_s=600)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def side_by_side(data: Path, rev: str, pages: list[str] | None, query: str, repeat: int) -> list[list[str]]:
    """Warm loads of each page from the baseline commit and from this tree, alternating: table rows."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO))
    from tests.browser.server import Server

    rows_out = []
    with baseline_tree(rev) as tree, tempfile.TemporaryDirectory(prefix="dashapp-bench-browser-") as scratch:
        trees = {"baseline": tree, "this": REPO}
        charts = {name: chart_ids_by_page(root) for name, root in trees.items()}
        servers = {}
        try:
            for name, root in trees.items():
                servers[name] = Server(data, Path(scratch) / name / "cache", root=root)
            for server in servers.values():
                server.wait(timeout=180)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
                tabs = {name: browser.new_page(viewport={"width": 1440, "height": 1000}) for name in trees}

                def visit(name: str, path: str, timeout_s: float = 120) -> float:
                    page, started = tabs[name], time.perf_counter()
                    page.goto(servers[name].url + path + query)
                    ids = charts[name].get(path, [])
                    page.wait_for_function(PANELS_DRAWN, arg=ids, polling="raf", timeout=timeout_s * 1000)
                    return time.perf_counter() - started

                for path in pages or list(charts["this"]):
                    log(f"browser visits {path} from {rev} and this tree ...")
                    samples = {name: [] for name in trees}
                    for name in trees:
                        warm_up(visit, name, path)
                        visit(name, path)
                    for i in range(repeat):
                        for name in list(trees)[:: 1 if i % 2 == 0 else -1]:
                            samples[name].append(visit(name, path))
                    base, this = _median(samples["baseline"]), _median(samples["this"])
                    rows_out.append([path, fmt_s(base), fmt_s(this), f"{this / base:.2f}×"])
                    print("| " + " | ".join(rows_out[-1]) + " |", flush=True)
                browser.close()
        finally:
            for server in servers.values():
                server.stop()
    return rows_out


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
    parser.add_argument(
        "--page", action="append", help="page path; repeat for several (default /sentiment; with --baseline, all)"
    )
    parser.add_argument("--query", default="", help="query string for every page, e.g. ?start=now-30d")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="a git commit to time side by side with this tree, warm")
    args = parser.parse_args(argv)
    args.data = args.data.resolve()  # the baseline's gunicorn runs in its own worktree
    if args.baseline:
        print(f"| page | baseline ({args.baseline}) median | this median | ratio |\n|---|---:|---:|---:|", flush=True)
        side_by_side(args.data, args.baseline, args.page, args.query, args.repeat)
        return 0
    print("| page load | median (p95) |\n|---|---|")
    for path in args.page or ["/sentiment"]:
        log(f"browser visits {path} ...")
        for row in rows(path, page_loads(args.data, path, args.query, args.repeat)):
            print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
