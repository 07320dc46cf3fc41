"""Table panels as grids: the rendered plotly table becomes rows that sort by raw values and show the table's text,
keep their tints, and carry rich cells as plain parts."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from dashapp.charts import REGISTRY, get_chart, render
from dashapp.charts.alerts import STATE_TINTS
from dashapp.charts.figures import DARK_TINTS, DRIFT_TINTS, empty_figure, table_figure
from dashapp.charts.quality import FRESHNESS_TINTS, STATUS_TINTS
from dashapp.charts.themes import dark_color
from dashapp.pages.grids import grid_props, parts, text_of
from dashapp.resources import shipped_folder
from tests.fixtures import chart_args

PARAMS = {"start": pd.Timestamp("2024-03-01"), "end": pd.Timestamp("2024-03-04")}


def drift_frame() -> pd.DataFrame:
    rows = [
        ("vix", "numeric", "critical", 0.364, 0.2383, 1e-12, 2.566, None, None, None, 1500, 2000),
        ("spread", "numeric", "ok", 0.0312, 0.05, 0.41, 0.12, None, None, None, 900, 2000),
        ("sector", "categorical", "warning", 0.18, None, None, None, 42.5, 0.003, 0.21, 12000, 2000),
        ("volume", "numeric", "no data", None, None, None, None, None, None, None, 0, 2000),
    ]
    columns = ["feature", "kind", "status", "psi", "ks_statistic", "ks_pvalue", "wasserstein", "chi2_statistic"]
    columns += ["chi2_pvalue", "js_distance", "n_current", "n_reference"]
    return pd.DataFrame(rows, columns=columns).assign(rule="PSI")


def drift_grid():
    from dashapp.charts import drift

    figure = drift.features_figure(drift_frame(), PARAMS)
    return grid_props(figure.to_plotly_json())


def by_header(columns: list[dict], header: str) -> dict:
    return next(c for c in columns if c["headerName"] == header)


def test_a_formatted_numeric_column_sorts_by_its_raw_values_and_shows_the_tables_text():
    rows, columns, _ = drift_grid()
    psi = by_header(columns, "PSI")
    assert psi["cellDataType"] == "number" and psi["filter"] == "agNumberColumnFilter"
    field = psi["field"]
    assert [row[field] for row in rows] == [0.364, 0.0312, 0.18, None]
    assert [row[f"{field}_text"] for row in rows] == ["0.3640", "0.0312", "0.1800", ""]
    assert psi["valueFormatter"] == {"function": f"params.data ? params.data.{field}_text : ''"}
    # The count column shows "window / baseline" and sorts by the window's count: 12,000 above 1,500.
    n = by_header(columns, "n window / baseline")
    assert [row[n["field"]] for row in rows] == [1500, 900, 12000, 0]
    assert rows[2][n["field"] + "_text"] == "12,000 / 2,000"


def test_a_text_column_stays_text_with_a_text_filter():
    rows, columns, _ = drift_grid()
    feature = by_header(columns, "Feature")
    assert feature["cellDataType"] == "text" and feature["filter"] == "agTextColumnFilter"
    assert "valueFormatter" not in feature
    assert [row[feature["field"]] for row in rows] == ["vix", "spread", "sector", "volume"]
    assert [c["headerName"] for c in columns][:3] == ["Feature", "Kind", "Status"]


def test_rows_keep_the_status_tint_and_the_status_as_text():
    rows, columns, _ = drift_grid()
    statuses = ("critical", "ok", "warning", "no data")
    assert [row.get("tint") for row in rows] == [DRIFT_TINTS[s] for s in statuses]
    assert [row.get("tint_dark") for row in rows] == [DARK_TINTS[s] for s in statuses]
    status = by_header(columns, "Status")
    assert [row[status["field"]] for row in rows] == ["critical", "ok", "warning", "no data"]


def test_white_rows_have_no_tint_and_columns_share_the_width_by_their_longest_value():
    frame = pd.DataFrame({"a": ["a long value", "y"], "b": [3, 20]})
    figure = table_figure(frame, {"a": "A", "b": "B"}, "none", row_colors=["white", "#FFF3CD"], widths=[2, 1])
    rows, columns, _ = grid_props(figure.to_plotly_json())
    assert [row.get("tint") for row in rows] == [None, "#fff3cd"]
    assert [c["flex"] for c in columns] == [len("a long value"), 4]
    # Plain numbers need no raw values: they sort as numbers as they are.
    assert columns[1]["cellDataType"] == "number" and [row["c1"] for row in rows] == [3, 20]


def test_dates_sort_as_iso_text_and_missing_ones_as_none():
    frame = pd.DataFrame({"when": [pd.Timestamp("2024-03-02 14:05"), pd.NaT, pd.Timestamp("2024-02-28 09:00")]})
    shown = frame.assign(when=["2024-03-02 14:05", "—", "2024-02-28 09:00"])
    figure = table_figure(shown, {"when": "Last run"}, "none", raw={"when": frame["when"]})
    rows, columns, _ = grid_props(figure.to_plotly_json())
    assert [row["c0"] for row in rows] == ["2024-03-02 14:05:00", None, "2024-02-28 09:00:00"]
    assert [row["c0_text"] for row in rows] == ["2024-03-02 14:05", "—", "2024-02-28 09:00"]
    assert columns[0]["cellDataType"] == "text"


def test_rich_cells_become_plain_parts_and_plain_text_to_sort_by():
    cell = "Check the feed.<br><a href='/drift?start=now-24h&amp;feature=vix' target='_self'>open Drift →</a>"
    assert parts(cell) == [
        [{"text": "Check the feed."}],
        [{"text": "open Drift →", "href": "/drift?start=now-24h&feature=vix"}],
    ]
    assert parts("<b>firing</b> · critical") == [[{"text": "firing", "bold": True}, {"text": " · critical"}]]
    value = "0.31<br><span style='color:#6c757d'>warning >= 0.1</span>"
    assert text_of(parts(value)) == "0.31 warning >= 0.1"
    assert parts(value)[1] == [{"text": "warning >= 0.1", "muted": True}]
    # Only the portal's own paths are links: anything else is shown as text.
    for href in ("javascript:alert(1)", "https://example.com/", "//example.com/x"):
        assert parts(f"<a href='{href}'>x</a>") == [[{"text": "x"}]]


def test_a_rich_column_renders_with_the_portal_renderer():
    shown = pd.DataFrame({"rule": ["<b>drift</b><br>feature=vix", "<b>latency</b>"]})
    rows, columns, _ = grid_props(table_figure(shown, {"rule": "Rule · series"}, "none").to_plotly_json())
    assert columns[0]["cellRenderer"] == "PortalRichText"
    assert [row["c0"] for row in rows] == ["drift feature=vix", "latency"]
    assert rows[0]["c0_rich"] == [[{"text": "drift", "bold": True}], [{"text": "feature=vix"}]]


def test_an_empty_state_is_no_rows_with_its_reason():
    rows, columns, options = grid_props(empty_figure("No input features").to_plotly_json())
    assert rows == [] and [c["headerName"] for c in columns] == ["No rows"]
    assert options["localeText"]["noRowsToShow"] == "No input features"


def test_every_tint_has_a_dark_counterpart_that_the_grid_shows_in_dark_mode():
    tints = {*DRIFT_TINTS.values(), *STATE_TINTS.values(), *STATUS_TINTS.values(), *FRESHNESS_TINTS.values()}
    for color in tints - {"white"}:
        dark = dark_color(color)
        assert dark != color and re.fullmatch(r"#[0-9a-f]{6}", dark), color
    css = (shipped_folder("assets") / "grids.css").read_text()
    assert ".portal-grid .ag-row.grid-tint { background-color: var(--grid-tint); }" in css
    assert '[data-bs-theme="dark"] .portal-grid .ag-row.grid-tint { background-color: var(--grid-tint-dark); }' in css


@pytest.mark.parametrize("chart_id", sorted(REGISTRY))
def test_table_charts_are_marked_and_their_rendered_figure_converts(shared_db, chart_id):
    spec = get_chart(chart_id)
    rendered = render(spec, chart_args(chart_id), shared_db)
    tables = [trace for trace in rendered.figure["data"] if trace.get("type") == "table"]
    assert bool(tables) == spec.table or (spec.table and not rendered.figure["data"])
    if spec.table:
        rows, columns, _ = grid_props(rendered.figure)
        json.dumps([rows, columns], allow_nan=False)  # what Dash sends: plain JSON, no NaN
        if tables:
            assert [c["headerName"] for c in columns] == [str(h) for h in tables[0]["header"]["values"]]
            assert len(rows) == len(tables[0]["cells"]["values"][0])


def test_a_grid_in_a_dark_page_carries_the_light_tint_and_its_dark_counterpart(shared_db):
    from urllib.parse import urlencode

    from dashapp.pages.panels import redraw_chart

    search = "?" + urlencode({**chart_args("drift.features"), "theme": ["dark"]}, doseq=True)
    figure, _, _ = redraw_chart(search, {"chart": "drift.features"}, None, None, shared_db, in_page_theme=False)
    rows, _, _ = grid_props(figure)
    tinted = [row for row in rows if row.get("tint")]
    assert tinted and all(row["tint"] in DRIFT_TINTS.values() for row in tinted)
    assert all(row["tint_dark"] == dark_color(row["tint"]) != row["tint"] for row in tinted)
