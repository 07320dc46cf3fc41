"""Each page in a real browser: renders cleanly, filters drive the charts and the URL, links restore views."""

from __future__ import annotations

import re
import shutil
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser.panels import chart_ids, drawing, footer, grid, wait_for_panels
from tests.browser.server import Server
from tests.browser.test_tearsheet_background import download_tearsheet_showing_progress

PAGES = {
    "/": "Overview",
    "/quality": "Data quality",
    "/drift": "Drift",
    "/sentiment": "Sentiment",
    "/backtests": "Backtests",
    "/correlation": "Correlation",
    "/operations": "Operations",
    "/alerts": "Alerts",
}
# Pages that use the global time range (Backtests has its own period and hides the filter bar).
WINDOWED = [path for path in PAGES if path != "/backtests"]
MARKUP = "<img src=x onerror=alert(1)>"


def choose(page, dropdown_id: str, option: str) -> None:
    page.click(f"#{dropdown_id}")
    page.locator(".dash-dropdown-option", has_text=option).first.click()
    page.keyboard.press("Escape")


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_every_panel_without_console_errors_or_csp_violations(server, page, path):
    page.goto(server.url + path)
    expect(page.locator(".navbar .nav-link.active")).to_have_text(PAGES[path])
    wait_for_panels(page, path)
    for chart_id in chart_ids(path):
        expect(drawing(page, chart_id)).to_have_count(1)
    assert page.console_errors == []
    assert page.csp_violations() == []


def test_navigation_lists_only_pages_that_exist(server, page):
    page.goto(server.url + "/")
    expect(page.locator(".navbar .nav-link")).to_have_text(list(PAGES.values()))


@pytest.mark.parametrize("path", WINDOWED)
def test_changing_the_time_range_updates_the_charts_and_the_url(server, page, path):
    page.goto(server.url + path)
    first = chart_ids(path)[0]
    wait_for_panels(page, path)
    before = footer(page, first).inner_text()
    choose(page, "filter-range", "Last 30 days")
    expect(page).to_have_url(re.compile(r"\?start=now-30d$"))
    expect(footer(page, first)).not_to_have_text(before)
    wait_for_panels(page, path)
    assert page.console_errors == []


def test_model_version_filter_goes_into_the_url_and_survives_a_reload(server, page):
    page.goto(server.url + "/operations?start=now-30d")
    wait_for_panels(page, "/operations")
    choose(page, "filter-model-version", "sent-v1.4.2")
    expect(page).to_have_url(re.compile(r"model_version=sent-v1.4.2"))
    # Only the chosen version's traces remain in the latency legend, after the alert bands' and the rollout
    # markers' entries.
    legend = page.locator("[data-chart='ops.latency'] .legendtext").filter(has_not_text=" alert: ")
    traces = legend.filter(has_not_text="model rollouts").filter(has_not_text="training runs")
    expect(traces).to_have_text(["sent-v1.4.2 p50", "sent-v1.4.2 p95", "sent-v1.4.2 p99"])
    page.reload()
    expect(page.locator("#filter-model-version")).to_contain_text("sent-v1.4.2")
    expect(page.locator("#filter-range")).to_contain_text("Last 30 days")
    expect(traces).to_have_count(3)
    assert page.console_errors == []


def test_a_copied_link_reproduces_the_view_and_back_restores_the_previous_one(server, page):
    page.goto(server.url + "/?start=2026-01-01&end=2026-01-08&symbol=AAPL&symbol=MSFT")
    expect(page.locator("#filter-range")).to_contain_text("Custom")
    expect(page.locator("#filter-symbol")).to_contain_text("AAPL")
    expect(page.locator("#filter-symbol")).to_contain_text("MSFT")
    expect(footer(page, "overview.volume")).to_contain_text("2026-01-01 00:00 → 2026-01-08 00:00 UTC")
    choose(page, "filter-range", "Last 24 hours")
    expect(page).to_have_url(re.compile(r"start=now-24h"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"start=2026-01-01"))
    expect(page.locator("#filter-range")).to_contain_text("Custom")
    expect(footer(page, "overview.volume")).to_contain_text("2026-01-01 00:00 → 2026-01-08 00:00 UTC")


def test_navigation_links_carry_the_filters(server, page):
    page.goto(server.url + "/?start=now-30d")
    wait_for_panels(page, "/")
    page.locator(".navbar .nav-link", has_text="Operations").click()
    expect(page).to_have_url(re.compile(r"/operations\?start=now-30d$"))
    wait_for_panels(page, "/operations")
    expect(footer(page, "ops.latency")).to_contain_text("30m buckets")


def test_a_bad_url_parameter_is_named_on_the_panels_and_nothing_breaks(server, page):
    page.goto(server.url + "/operations?start=2024-13-01")
    expect(footer(page, "ops.latency")).to_contain_text("start: must be an ISO date")
    assert page.console_errors == []


@pytest.mark.parametrize(
    ("path", "shown_in"),
    [
        (f"/operations?symbol={quote(MARKUP)}", "[data-chart='ops.latency'] .card-footer"),
        (f"/embed/ops.latency?title={quote(MARKUP)}", ".embed-title"),
        (f"/embed/ops.latency?symbol={quote(MARKUP)}", ".embed-message"),
    ],
)
def test_markup_in_a_parameter_is_shown_as_text_and_never_runs(server, page, path, shown_in):
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.dismiss())
    page.goto(server.url + path)
    expect(page.locator(shown_in)).to_contain_text(MARKUP)
    page.wait_for_load_state("networkidle")  # an injected image would have failed to load by now
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
    assert page.csp_violations() == []


def test_missing_tables_show_an_empty_state_and_the_other_panels_keep_working(demo_dir, tmp_path, browser, page):
    partial = tmp_path / "data"
    shutil.copytree(demo_dir, partial)
    (partial / "pipeline_runs.parquet").unlink()
    shutil.rmtree(partial / "outcomes")
    srv = Server(partial, tmp_path / "cache").wait()
    try:
        page.goto(srv.url + "/operations")
        for chart_id in ("ops.pipeline_runs", "ops.pipeline_health"):
            expect(footer(page, chart_id)).to_contain_text("pipeline_runs: no parquet files at pipeline_runs/")
            expect(footer(page, chart_id)).to_contain_text("Expected columns: pipeline (string)")
        for chart_id in ("ops.throughput", "ops.latency", "ops.traffic_split"):
            expect(footer(page, chart_id)).to_contain_text("data through")
        page.goto(srv.url + "/")
        expect(footer(page, "overview.accuracy")).to_contain_text("outcomes: no parquet files at outcomes/")
        expect(footer(page, "overview.kpis")).to_contain_text("data through")
        expect(footer(page, "overview.alerts")).to_contain_text("data through")  # the other rules still evaluate
        expect(footer(page, "overview.volume")).to_contain_text("data through")
        assert page.console_errors == []
    finally:
        srv.stop()


def page_control(page, name: str):
    """A page's own control: Dash renders its dict id as JSON."""
    return page.locator(f'[id=\'{{"name":"{name}","type":"page-param"}}\']')


def test_drift_page_picks_a_feature_shows_its_distribution_and_keeps_it_in_the_url(server, page):
    page.goto(server.url + "/drift")
    wait_for_panels(page, "/drift")
    expect(footer(page, "drift.features")).to_contain_text("features drifted")
    # The demo's drift episode (the last 3 days) moves vix; novelty never moves.
    for feature, status in (("vix", "vix: critical"), ("novelty", "novelty: ok")):
        page_control(page, "feature").click()
        page.locator(".dash-dropdown-option", has_text=feature).first.click()
        page.keyboard.press("Escape")
        expect(page).to_have_url(re.compile(rf"feature={feature}"))
        expect(footer(page, "drift.distribution")).to_contain_text(status)
    page.get_by_label("previous window").check()
    expect(page).to_have_url(re.compile(r"reference=previous"))
    expect(footer(page, "drift.distribution")).to_contain_text("novelty:")
    page.get_by_label("feature", exact=True).check()
    expect(page).to_have_url(re.compile(r"sort=feature"))
    expect(footer(page, "drift.features")).to_contain_text("features drifted")
    page.reload()
    expect(page_control(page, "feature")).to_contain_text("novelty")
    expect(footer(page, "drift.distribution")).to_contain_text("novelty: ok")
    assert page.console_errors == []


def test_backtests_compare_two_runs_over_a_chosen_period_and_download_a_tearsheet(server, demo_dir, page):
    import pandas as pd

    runs = pd.read_parquet(demo_dir / "backtest_runs.parquet")
    first, second = sorted(runs.loc[runs["kind"] == "backtest", "run_id"])[:2]
    page.goto(server.url + "/backtests")
    wait_for_panels(page, "/backtests")
    expect(page.locator("#filter-bar")).to_be_hidden()  # the page has its own period
    page_control(page, "run").click()
    for run_id in (first, second):
        page.locator(".dash-dropdown-option", has_text=run_id).first.click()
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(rf"run={first}&run={second}"))
    cumulative = page.locator("[data-chart='backtest.cumulative'] .legendtext")
    expect(cumulative).to_contain_text([first, "benchmark", second])
    expect(grid(page, "backtest.metrics").locator(".ag-header")).to_contain_text(second)
    expect(footer(page, "backtest.metrics")).to_contain_text(f"{first}: ")

    last = pd.Timestamp(pd.read_parquet(demo_dir / "backtest_returns.parquet")["ts"].max())
    start = (last - pd.Timedelta(days=90)).date().isoformat()
    page_control(page, "from").fill(start)
    expect(page).to_have_url(re.compile(rf"from={start}"))
    for chart_id in ("backtest.metrics", "backtest.cumulative", "backtest.drawdown"):
        expect(footer(page, chart_id)).to_contain_text(f"{start} → last day")
    # The run's span now begins on the period's first trading day.
    span_start = re.search(rf"{first}: (\d{{4}}-\d\d-\d\d) to ", footer(page, "backtest.metrics").inner_text())
    assert start <= span_start.group(1) <= (pd.Timestamp(start) + pd.Timedelta(days=4)).date().isoformat()

    report = download_tearsheet_showing_progress(page, f"{first}-tearsheet.html", "backtests-tearsheet-progress")
    assert "generated by QuantStats" in report and f"<h1>{first} tearsheet" in report  # for the focus run
    assert "Sharpe" in report and start[:4] in report
    assert page.console_errors == []


def test_correlation_switches_method_and_pooling_and_keeps_them_in_the_url(server, page):
    page.goto(server.url + "/correlation?start=now-30d")
    wait_for_panels(page, "/correlation")
    matrix = page.locator("[data-chart='correlation.matrix']")
    expect(matrix.locator(".colorbar .cbtitle")).to_have_text("pearson")
    expect(matrix.locator(".ytick", has_text="mean sentiment")).to_have_count(1)
    page.get_by_label("spearman").check()
    expect(page).to_have_url(re.compile(r"method=spearman"))
    expect(matrix.locator(".colorbar .cbtitle")).to_have_text("spearman")
    page.get_by_label("per symbol").check()
    expect(page).to_have_url(re.compile(r"by=symbol"))
    expect(matrix.locator(".ytick", has_text="AAPL")).to_have_count(1)  # a row per symbol
    expect(matrix.locator(".ytick", has_text="mean sentiment")).to_have_count(0)
    expect(footer(page, "correlation.lead_lag")).to_contain_text("sentiment leads")
    page.reload()
    expect(matrix.locator(".colorbar .cbtitle")).to_have_text("spearman")
    assert page.console_errors == []


def test_sentiment_page_shows_the_weak_canary_as_significantly_worse_and_filters_by_version(server, page):
    page.goto(server.url + "/sentiment")
    wait_for_panels(page, "/sentiment")
    versions = grid(page, "sentiment.versions")
    expect(versions).to_contain_text("sent-v1.5.0-rc1")
    expect(versions).to_contain_text(re.compile(r"-\d+\.\d% \(p[<=][^)]*, significant\)"))  # lower, significantly
    expect(footer(page, "sentiment.versions")).to_contain_text("stable version (most traffic): sent-v1.4.2")
    before = footer(page, "sentiment.confusion").inner_text()
    choose(page, "filter-model-version", "sent-v1.5.0-rc1")
    expect(page).to_have_url(re.compile(r"model_version=sent-v1.5.0-rc1"))
    expect(footer(page, "sentiment.confusion")).not_to_have_text(before)
    expect(versions).not_to_contain_text("sent-v1.4.2")
    expect(page.locator("[data-chart='sentiment.calibration'] .legendtext")).to_contain_text(["sent-v1.5.0-rc1"])
    assert page.console_errors == []


def test_alerts_page_lists_firing_rules_worst_first_and_links_to_their_cause(server, page):
    page.goto(server.url + "/alerts")
    wait_for_panels(page, "/alerts")
    expect(page.locator("#filter-range")).to_be_visible()
    expect(page.locator("#filter-symbol-col")).to_be_hidden()  # alerts watch every symbol and version
    rules = grid(page, "alerts.current")
    expect(rules.locator(".ag-row").first.locator(".ag-cell").first).to_contain_text("firing · critical")  # worst first
    expect(rules).to_contain_text("feature_drift")
    expect(page.locator("[data-chart='alerts.timeline'] .bars path").first).to_be_visible()
    before = footer(page, "alerts.current").inner_text()
    choose(page, "filter-range", "Last 30 days")  # the latency spike, 10 days back, joins the history
    expect(page).to_have_url(re.compile(r"/alerts\?start=now-30d$"))
    expect(footer(page, "alerts.current")).not_to_have_text(before)  # the table was drawn again
    expect(page.locator("[data-chart='alerts.timeline'] .ytick")).to_contain_text(
        [re.compile("latency_p95")], timeout=60_000
    )
    # The wheel scrolls the grid's rows, and a rule's link to its cause takes the click.
    scrolled = """([moved]) => {
        const rows = document.querySelector("[data-chart='alerts.current'] .ag-body-viewport");
        return moved ? rows.scrollTop > 0 : rows.scrollTop === 0;
    }"""
    box = rules.locator(".ag-body-viewport").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 200)
    page.wait_for_function(scrolled, arg=[True])
    page.mouse.wheel(0, -400)
    page.wait_for_function(scrolled, arg=[False])
    rules.locator("a", has_text="open Drift").first.click()
    expect(page).to_have_url(re.compile(r"/drift\?start=.*&feature=\w+"))
    wait_for_panels(page, "/drift")
    assert page.console_errors == []
