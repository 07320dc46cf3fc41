"""Retake the README's screenshots on the demo data (run by hand, after `make demo`).

    .venv/bin/python tests/bench/readme_screenshots.py [--data data/demo] [--out docs/screenshots]

A fresh gunicorn and alert scheduler on the demo (the scheduler's first evaluation done, so the Alerts and
Operations pages show real alert states), each page in headless Chromium until every panel is drawn, then a
full-page screenshot: light at 1440 px, a few pages dark, and one page at a phone's 390 px.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# (file name, path and query, viewport width, what the README's caption promises)
SHOTS = [
    ("overview", "/", 1440),
    ("drift", "/drift", 1440),
    ("backtests", "/backtests", 1280),
    ("sentiment", "/sentiment", 1440),
    ("quality", "/quality", 1440),
    ("alerts", "/alerts", 1440),
    ("operations", "/operations?start=now-30d", 1440),
    ("overview-dark", "/?theme=dark", 1440),
    ("drift-dark", "/drift?theme=dark", 1440),
    ("operations-dark", "/operations?start=now-30d&theme=dark", 1440),
    ("overview-phone", "/", 390),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "demo")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--only", nargs="*", help="file names to retake (default: all)")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.panels import wait_for_panels
    from tests.browser.server import Server

    expect.set_options(timeout=300_000)  # a cold demo page draws in seconds; the first after a start, longer
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dashapp-screenshots-") as scratch:
        server = Server(args.data.resolve(), Path(scratch) / "cache", scheduler=True).wait(timeout=600)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
                for name, target, width in SHOTS:
                    if args.only and name not in args.only:
                        continue
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    page.goto(server.url + target)
                    wait_for_panels(page, target.split("?")[0])
                    page.wait_for_timeout(500)  # plotly's last transitions
                    page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
                    page.close()
                    print(f"{name}.png  {target} at {width} px")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
