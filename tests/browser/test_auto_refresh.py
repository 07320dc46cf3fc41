"""Auto-refresh in a real browser: refresh=5s redraws a chart when a parquet file arrives, without a reload,
and an idle tick runs no DuckDB query (counted by the server on /metrics)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from dashapp.sqlfiles import load_query, query_names
from tests.browser.server import Server, fetch
from tests.fixtures import DAY4, publish_day, write_all

WINDOW = "/operations?start=2024-03-01&end=2024-03-06"  # fixed: time passing cannot move it
SAMPLE = re.compile(r'^dashapp_duckdb_queries_total\{query="([^"]+)",route="([^"]+)"\} (\S+)$', re.M)
THROUGHPUT = "[data-chart='ops.throughput']"
PIPELINES_ONLY = [name for name in query_names() if load_query(name).tables == ("pipeline_runs",)]


def queries_run(server: Server) -> dict[str, float]:
    """The server's DuckDB queries so far (every worker's), by query file; /metrics' own left out."""
    status, text = fetch(server.url + "/metrics")
    assert status == 200
    counts: dict[str, float] = {}
    for query, route, value in SAMPLE.findall(text):
        if route != "/metrics":
            counts[query] = counts.get(query, 0) + float(value)
    return counts


def throughput_data(page) -> list:
    return page.evaluate(f'document.querySelector("{THROUGHPUT} .js-plotly-plot").data.map(t => [t.name, t.x, t.y])')


def test_auto_refresh_redraws_what_a_new_file_changes_and_an_idle_tick_runs_no_query(tmp_path, browser, page):
    data = write_all(tmp_path / "data")
    server = Server(data, tmp_path / "cache").wait()
    callbacks = []  # (what the POST was for, its status, bytes back, ms to the first byte)
    page.on("requestfinished", lambda request: callbacks.append(_callback(request)))
    try:
        page.goto(server.url + WINDOW + "&refresh=5s")
        expect(page.locator("#refresh-picker")).to_have_value("5s")  # set from the URL
        for chart in ("ops.throughput", "ops.latency", "ops.pipeline_runs"):
            expect(page.locator(f"[data-chart='{chart}'] .card-footer")).to_contain_text("data through")
        expect(page.locator("[data-chart] .card-footer > div:empty")).to_have_count(0)  # every panel drawn
        # A tick that came while the panels were still being drawn may redraw one (its version was not yet known):
        # the picker is toggled only once a tick has found nothing to do.
        drawn_at = len(callbacks)
        for _ in range(120):
            if any(c[0] == "tick" and c[1] == 204 for c in callbacks[drawn_at:]):
                break
            page.wait_for_timeout(250)
        toggled = len(callbacks)
        page.select_option("#refresh-picker", "off")
        expect(page).not_to_have_url(re.compile("refresh="))
        page.select_option("#refresh-picker", "5s")
        expect(page).to_have_url(re.compile(r"\?start=2024-03-01&end=2024-03-06&refresh=5s$"))

        page.evaluate("window.refreshMarker = 'no reload'")
        drawn, before, since = throughput_data(page), queries_run(server), len(callbacks)
        page.wait_for_timeout(12_000)  # two ticks at least
        ticks = [c for c in callbacks[since:] if c[0] == "tick"]
        assert len(ticks) >= 2 and {c[1:3] for c in ticks} == {(204, 0)}, ticks
        assert {c[1] for c in callbacks[toggled:] if c[0] == "panel"} == {204}  # the picker's URL changes drew nothing
        assert queries_run(server) == before
        assert throughput_data(page) == drawn

        publish_day(data, DAY4)
        footer = page.locator(f"{THROUGHPUT} .card-footer")
        expect(footer).to_contain_text("predictions data through 2024-03-04", timeout=15_000)
        assert throughput_data(page) != drawn
        assert page.evaluate("window.refreshMarker") == "no reload"
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        ran = {q: n - before.get(q, 0) for q, n in queries_run(server).items() if n > before.get(q, 0)}
        assert "ops_requests" in ran
        assert not set(PIPELINES_ONLY) & set(ran), ran  # its table did not change: its panels were not re-queried
        print(f"idle ticks (kind, status, bytes, ms to first byte): {ticks}; queries after the new file: {ran}")

        page.goto(server.url + WINDOW + "&refresh=7s")
        expect(page.locator("#refresh-error")).to_have_text("refresh: must be one of off, 5s, 30s, 1m, 5m, got '7s'")
        expect(page.locator("#refresh-picker")).to_have_value("off")
        expect(page.locator(f"{THROUGHPUT} .card-footer")).to_contain_text("data through")
        assert page.console_errors == []
        assert page.csp_violations() == []
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


def test_an_embed_with_refresh_redraws_in_place_when_a_file_arrives(tmp_path, browser, page):
    data = write_all(tmp_path / "data")
    server = Server(data, tmp_path / "cache").wait()
    polls = []  # the statuses of embed.js' conditional requests
    page.on("response", lambda r: polls.append(r.status) if "if-none-match" in r.request.headers else None)
    try:
        page.goto(server.url + "/embed/ops.throughput?start=2024-03-01&end=2024-03-06&refresh=5s")
        footer = page.locator(".embed-footer")
        expect(footer).to_contain_text("predictions data through 2024-03-03")
        page.evaluate("window.refreshMarker = 'no reload'")
        drawn, before = page.evaluate("document.getElementById('chart').data.map(t => t.y)"), queries_run(server)
        page.wait_for_timeout(6_000)
        assert polls and set(polls) == {304}
        assert queries_run(server) == before

        publish_day(data, DAY4)
        expect(footer).to_contain_text("predictions data through 2024-03-04", timeout=15_000)
        assert page.evaluate("document.getElementById('chart').data.map(t => t.y)") != drawn
        assert page.evaluate("window.refreshMarker") == "no reload"
        assert page.console_errors == []
        assert page.csp_violations() == []
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


def _callback(request) -> tuple:
    """What a callback POST was for ("tick", "panel" or "other"), its status, bytes back and ms to the first byte."""
    if urlsplit(request.url).path != "/_dash-update-component":
        return ("page", 0, 0, 0.0)
    body = request.post_data or ""
    kind = "tick" if '"n_intervals"' in body else "panel" if '"chart-graph"' in body else "other"
    response = request.response()
    timing = request.timing
    size = len(response.body()) if response and response.status != 204 else 0
    return (kind, response.status if response else 0, size, round(timing["responseStart"] - timing["requestStart"], 1))
