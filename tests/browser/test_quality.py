"""The Data quality page in a real browser: every panel draws, its numbers are the data's, broken tables explain."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
from playwright.sync_api import expect

from tests.browser.panels import chart_ids, drawing, footer, grid, wait_for_panels
from tests.browser.server import Server

PANELS = chart_ids("/quality")


def window(demo_dir) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The demo's last seven whole days."""
    last = pd.read_parquet(demo_dir / "predictions", columns=["ts"])["ts"].max()
    end = last.floor("D")
    return end - pd.Timedelta(days=7), end


def test_every_quality_panel_draws_the_numbers_of_the_data(server, demo_dir, page):
    start, end = window(demo_dir)
    page.goto(f"{server.url}/quality?start={start:%Y-%m-%d}&end={end:%Y-%m-%d}")
    wait_for_panels(page, "/quality")
    for chart_id in PANELS:
        expect(drawing(page, chart_id)).to_have_count(1)
        expect(footer(page, chart_id)).not_to_contain_text("Panel failed")
    frame = pd.read_parquet(demo_dir / "predictions", columns=["ts", "request_id", "latency_ms"])
    frame = frame[(frame["ts"] >= start) & (frame["ts"] < end)]
    # Outliers: latency's quartiles and values above the upper fence, as numpy has them.
    q1, q3 = np.percentile(frame["latency_ms"], [25, 75])
    above = int((frame["latency_ms"] > q3 + 1.5 * (q3 - q1)).sum())
    outliers = grid(page, "quality.outliers")
    expect(outliers).to_contain_text(f"{q1:.4g} – {q3:.4g}")
    expect(outliers).to_contain_text(f"{above:,}")
    # Repeated request_ids: every prediction of the window has an id, each once.
    expect(grid(page, "quality.duplicates")).to_contain_text(f"{len(frame):,}")
    expect(footer(page, "quality.missing")).to_contain_text("no required column misses a value")
    assert page.console_errors == []


def test_a_missing_and_a_corrupt_table_explain_themselves_and_the_other_panels_still_draw(demo_dir, tmp_path, page):
    broken = tmp_path / "data"
    shutil.copytree(demo_dir, broken)
    shutil.rmtree(broken / "predictions")
    newest = max((broken / "outcomes").rglob("*.parquet"))
    newest.write_bytes(b"not parquet at all")
    srv = Server(broken, tmp_path / "cache").wait()
    try:
        page.goto(srv.url + "/quality")
        expect(footer(page, "quality.values")).to_contain_text("predictions: no parquet files at predictions/")
        expect(footer(page, "quality.values")).to_contain_text("Expected columns: ts (timestamp), request_id (string)")
        for chart_id in ("quality.rows", "quality.missing", "quality.outliers", "quality.completeness"):
            expect(footer(page, chart_id)).to_contain_text("data through")  # the other tables still draw
            expect(footer(page, chart_id)).to_contain_text("predictions: no parquet files")
            expect(footer(page, chart_id)).to_contain_text("partial data: outcomes skips 1 of")  # read without it
        expect(footer(page, "quality.duplicates")).to_contain_text("predictions: no parquet files")
        expect(page.locator("[data-chart='quality.rows'] .js-plotly-plot .heatmaplayer")).to_have_count(1)
        for chart_id in PANELS:
            expect(footer(page, chart_id)).not_to_contain_text("Panel failed")
        assert page.console_errors == []
    finally:
        srv.stop()
    assert "Traceback" not in srv.log.read_text()
