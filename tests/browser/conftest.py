"""Browser tests: Debian's headless Chromium, driven by Playwright, against the app served by gunicorn."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.server import ROOT, Server

ARTIFACTS = ROOT / "tests" / "artifacts"
# Generous: CI machines have two cores and the first render of a page runs every query once.
expect.set_options(timeout=30_000)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Every frame records the Content-Security-Policy violations it sees; page.csp_violations() reads them.
RECORD_CSP_VIOLATIONS = """window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    from dashapp.demo import write_demo

    out = tmp_path_factory.mktemp("demo")
    # 45k rows: the latency spike's 15-minute buckets hold 75+ requests, well above the rules' minimum of 50.
    write_demo(out, rows=45_000, days=14, seed=11)
    return out


@pytest.fixture(scope="session")
def server(demo_dir, tmp_path_factory):
    # The scheduler's first evaluation takes a minute or more on a loaded two-core machine.
    srv = Server(demo_dir, tmp_path_factory.mktemp("cache"), scheduler=True).wait(timeout=180)
    yield srv
    srv.stop()
    if "Traceback" in srv.log.read_text():
        pytest.fail(f"the server logged a traceback:\n{srv.log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: `make test` installs Debian's chromium and chromium-driver")

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    """A fresh page that records console errors and CSP violations; the test's screenshot lands in tests/artifacts/."""
    with recording_page(browser, request.node.name) as pg:
        yield pg


@contextmanager
def recording_page(browser, name: str, **options):
    """A page in a context of its own (`options`: Playwright's new_context options, such as http_credentials or a
    viewport other than 1440x1000) that
    records console errors and CSP violations, and leaves a screenshot named `name` in tests/artifacts/."""
    context = browser.new_context(**({"viewport": {"width": 1440, "height": 1000}} | options))
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    pg = context.new_page()
    pg.console_errors = []
    pg.csp_violations = lambda: _csp_violations(pg)
    pg.on("console", lambda msg: pg.console_errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    pg.set_default_timeout(20_000)
    try:
        yield pg
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{name.replace('/', '_')}.png"), full_page=True)
    finally:
        context.close()


def _csp_violations(page) -> list[str]:
    """The CSP violations recorded by the page and its frames, and the console's CSP messages."""
    events = [v for frame in page.frames for v in frame.evaluate("window.cspViolations || []")]
    return events + [text for text in page.console_errors if "Content Security Policy" in text]
