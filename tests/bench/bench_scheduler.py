"""Alerting off the request path, measured (run by hand) on the 10M-row demo, against the earlier commit.

    .venv/bin/python tests/bench/bench_scheduler.py [--data data/bench-10000000] [--repeat 5]
                                                    [--before 2313bc9] [--only deploys|bands]

1. Deploys: every page of the navigation opened in headless Chromium, from navigation until every panel's
   footer says "data through", at its default view (no query string: what a first visitor sees). For each
   of --repeat deploys: a release (a copy of the checkout) gets new code (a changed comment in a page
   module), the scheduler runs once (`dashapp scheduler --once`: it evaluates and warms), gunicorn starts
   from the release on the same cache and state folders, and every page is opened once (after the deploy),
   then once more (warm). This commit runs with the results cache on disk (the default) and in Redis; the
   earlier commit, which had no scheduler, with Redis: its cache prefix, made of the build and every setting,
   changed with every deploy there (flask-caching's FileSystemCache ignores a key prefix).
2. Bands: `overview.volume` through the API with the results cache emptied before each request (cold),
   with its alert bands and without (`alerts=hide`), on each commit; the scheduler has evaluated once.

Two gunicorn workers, as the browser tests run them. Other jobs on the machine add noise: compare the
ratios of one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_queries import REPO, _median, fmt_s, log, markdown

sys.path.insert(0, str(REPO))
from tests.browser.server import RedisServer, Server, fetch  # noqa: E402

PAGES = ("/", "/quality", "/drift", "/sentiment", "/backtests", "/correlation", "/operations", "/alerts")
RELEASE_FILES = ("dashapp", "queries", "assets", "gunicorn.conf.py", "pyproject.toml")  # what either commit has
VISIT_TIMEOUT = 900  # seconds: the earlier commit's cold Operations page took minutes on a busy machine
CHANGED = Path("dashapp/pages/overview.py")  # a deploy's new code: the page's module, a comment in it


def release(source: Path, folder: Path) -> Path:
    """A copy of a checkout, as a deploy puts one on a host."""
    folder.mkdir(parents=True)
    for name in RELEASE_FILES:
        path = source / name
        if not path.exists():
            continue
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, folder / name)
    return folder


def new_code(root: Path, deploy: int) -> None:
    with (root / CHANGED).open("a") as module:
        module.write(f"# deploy {deploy}\n")


def environment(data: Path, work: Path, scheduler: bool, redis_url: str | None = None) -> dict:
    env: dict = {"DASHAPP_DATA_DIR": str(data), "DASHAPP_CACHE_DIR": str(work / "cache")}
    env |= {"DASHAPP_CACHE_REDIS_URL": redis_url} if redis_url else {}
    if not scheduler:  # the earlier commit refuses settings it does not know
        return env | {"DASHAPP_STATE_DIR": None}
    return env | {"DASHAPP_STATE_DIR": str(work / "state"), "DASHAPP_ALERT_INTERVAL": "1"}


def run_scheduler_once(root: Path, env: dict) -> float:
    started = time.perf_counter()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")} | env
    done = subprocess.run(
        [sys.executable, "-m", "dashapp.cli", "scheduler", "--once"], cwd=root, env=environ, capture_output=True
    )
    if done.returncode != 0:
        raise SystemExit(f"dashapp scheduler --once failed: {done.stderr.decode()[-2000:]}")
    return time.perf_counter() - started


# True once every panel's footer says "data through": checked on each animation frame, so a visit ends when the
# last panel is drawn, not at the next retry of a per-panel wait (which backs off to a second).
DRAWN = """ids => ids.every(id => {
  const footer = document.querySelector(`[data-chart='${id}'] .card-footer`);
  return footer !== null && footer.textContent.includes("data through");
})"""


def visit(page, url: str, charts: list[str]) -> float:
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(DRAWN, arg=charts, polling="raf", timeout=VISIT_TIMEOUT * 1000)
    return time.perf_counter() - started


def deploys(source: Path, data: Path, repeat: int, scheduler: bool, redis_url: str | None = None) -> dict:
    """{page: {"deploy": [...], "warm": [...]}, "_scheduler": [...]} over `repeat` deploys of `source`, with the
    results cache on disk or in Redis."""
    from playwright.sync_api import sync_playwright

    from dashapp.charts import REGISTRY

    charts = {path: [c for c, spec in REGISTRY.items() if spec.page == path] for path in PAGES}
    out = {path: {"deploy": [], "warm": []} for path in PAGES} | {"_scheduler": []}
    with tempfile.TemporaryDirectory(prefix="dashapp-bench-deploys-") as scratch:
        work = Path(scratch)
        root = release(source, work / "release")
        env = environment(data, work, scheduler, redis_url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
            # One browser page throughout, as a returning visitor's: its HTTP cache keeps Dash's and plotly's
            # scripts (the same URLs after a deploy), so a visit measures the server, not their download.
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            for deploy in range(repeat + 1):  # the first fills the caches with what a deploy keeps
                new_code(root, deploy)
                if scheduler:
                    out["_scheduler"].append(run_scheduler_once(root, env))
                server = Server(data, work / "cache", root=root, **env).wait(timeout=180)
                try:
                    for path in PAGES:
                        after = visit(page, server.url + path, charts[path])
                        warm = visit(page, server.url + path, charts[path])
                        if deploy:
                            out[path]["deploy"].append(after)
                            out[path]["warm"].append(warm)
                        log(f"deploy {deploy} {path}: after deploy {after:.2f} s, warm {warm:.2f} s")
                finally:
                    server.stop()
            browser.close()
    return out


def bands(source: Path, data: Path, repeat: int, scheduler: bool, show: str) -> dict:
    """Seconds for overview.volume's JSON with the results cache emptied first: {"bands": [...], "hide": [...]}."""
    out = {"bands": [], "hide": []}
    with tempfile.TemporaryDirectory(prefix="dashapp-bench-bands-") as scratch:
        work = Path(scratch)
        env = environment(data, work, scheduler)
        if scheduler:
            run_scheduler_once(source, env)
        server = Server(data, work / "cache", root=source, **env).wait(timeout=180)
        try:
            url = server.url + "/api/charts/overview.volume?format=json&alerts="
            fetch(url + show)  # both workers' connections and views
            fetch(url + "hide")
            for _ in range(repeat):
                for kind, value in (("bands", show), ("hide", "hide")):
                    for entry in (
                        work / "cache" / "results"
                    ).iterdir():  # emptied, kept: FileSystemCache makes it at start
                        entry.unlink()
                    started = time.perf_counter()
                    status, _ = fetch(url + value, timeout=300)
                    out[kind].append(time.perf_counter() - started)
                    assert status == 200, status
        finally:
            server.stop()
    return out


def earlier(commit: str, folder: Path) -> Path:
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), commit], cwd=REPO, check=True, capture_output=True
    )
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "bench-10000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", default="2313bc9", help="the earlier commit to compare with")
    parser.add_argument("--only", choices=("deploys", "bands"), action="append")
    parser.add_argument(
        "--cache", choices=("disk", "redis"), action="append", help="this commit's deploys: where the cache lives"
    )
    args = parser.parse_args(argv)
    parts = args.only or ["bands", "deploys"]
    args.cache = args.cache or ["disk", "redis"]
    with tempfile.TemporaryDirectory(prefix="dashapp-bench-before-") as scratch:
        before = earlier(args.before, Path(scratch) / "before")
        try:
            if "bands" in parts:
                log("overview.volume cold, with and without bands ...")
                now = bands(REPO, args.data, args.repeat, True, "relevant")
                then = bands(before, args.data, args.repeat, False, "show")
                rows = []
                for name, result in (("this commit", now), (args.before, then)):
                    with_bands, without = _median(result["bands"]), _median(result["hide"])
                    rows.append([name, fmt_s(with_bands), fmt_s(without), f"{with_bands / without:.2f}"])
                print(markdown(["overview.volume, cold", "with bands", "alerts=hide", "ratio"], rows), flush=True)
            if "deploys" in parts:
                log("pages after a deploy, and warm ...")
                redis_server = RedisServer(Path(scratch) / "redis").start()
                try:
                    runs = {}
                    if "disk" in args.cache:
                        runs["this commit, cache on disk"] = deploys(REPO, args.data, args.repeat, True)
                    if "redis" in args.cache:
                        runs["this commit, cache in Redis"] = deploys(
                            REPO, args.data, args.repeat, True, redis_server.url.replace("/0", "/1")
                        )
                    # The earlier commit's cache on disk never went cold after a deploy (FileSystemCache ignored
                    # its key prefix): only its Redis cache shows what a deploy cost it.
                    runs[f"{args.before}, cache in Redis"] = deploys(
                        before, args.data, args.repeat, False, redis_server.url.replace("/0", "/2")
                    )
                finally:
                    redis_server.stop()
                headers = ["page"]
                for name in runs:
                    headers += [f"{name}: after a deploy", "warm", "ratio"]
                rows = []
                for path in PAGES:
                    row = [path]
                    for result in runs.values():
                        after, warm = _median(result[path]["deploy"]), _median(result[path]["warm"])
                        row += [fmt_s(after), fmt_s(warm), f"{after / warm:.2f}"]
                    rows.append(row)
                print(markdown(headers, rows), flush=True)
                for name, result in runs.items():
                    if result["_scheduler"]:
                        print(f"\n{name}: scheduler --once per deploy {fmt_s(_median(result['_scheduler']))}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=REPO, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
