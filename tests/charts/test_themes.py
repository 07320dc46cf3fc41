"""charts/themes.py: a chart's figure in the light or the dark theme, for the pages, the embeds and the images."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from dashapp.charts.figures import DARK_TINTS, DRIFT_TINTS, table_figure
from dashapp.charts.themes import (
    DARK_BG,
    DARK_PANEL,
    for_export,
    for_frame,
    page_theme,
    theme_param,
    themed,
    title_param,
)
from dashapp.errors import BadParameter


def status_table() -> dict:
    frame = pd.DataFrame({"status": ["critical", "warning", "fine"]})
    tints = [DRIFT_TINTS["critical"], DRIFT_TINTS["warning"], "white"]
    return table_figure(frame, {"status": "Status"}, "none", row_colors=tints).to_plotly_json()


def test_light_is_the_figure_as_built_and_dark_a_copy_on_the_portals_dark_background():
    figure = status_table()
    before = copy.deepcopy(figure)
    assert themed(figure, "light") is figure
    dark = themed(figure, "dark")
    assert json.dumps(figure, default=str) == json.dumps(before, default=str)  # the cached figure is untouched
    template = dark["layout"]["template"]
    assert template["layout"]["paper_bgcolor"] == template["layout"]["plot_bgcolor"] == DARK_BG
    (table,) = template["data"]["table"]
    assert table["cells"]["fill"]["color"] == DARK_BG and table["header"]["fill"]["color"] == DARK_PANEL


def test_dark_swaps_each_light_status_tint_for_its_dark_one():
    (trace,) = themed(status_table(), "dark")["data"]
    assert trace["cells"]["fill"]["color"] == [[DARK_TINTS["critical"], DARK_TINTS["warning"], DARK_BG]]
    assert trace["header"]["fill"]["color"] == DARK_PANEL
    assert trace["cells"]["values"] == [["critical", "warning", "fine"]]  # the words stay


def test_a_frame_fills_its_container_and_an_image_carries_its_title():
    figure = {**status_table(), "layout": {**status_table()["layout"], "height": 340}}
    framed = for_frame(figure, "dark")
    assert "height" not in framed["layout"] and framed["layout"]["autosize"] is True
    image = for_export(figure, "light", "Contract")
    assert image["layout"]["title"]["text"] == "Contract" and image["layout"]["height"] == 340
    assert image["layout"]["margin"]["t"] > figure["layout"]["margin"]["t"]  # room for it
    assert "title" not in for_export(figure, "light", "")["layout"]


def test_theme_and_title_parameters():
    assert theme_param({}) == "light" and theme_param({"theme": ["dark"]}) == "dark"
    with pytest.raises(BadParameter) as caught:
        theme_param({"theme": ["blue"]})
    assert caught.value.param == "theme"
    assert title_param({}, "Latency") == "Latency"
    assert title_param({"title": [""]}, "Latency") == ""
    assert title_param({"title": [" Mine "]}, "Latency") == "Mine"
    with pytest.raises(BadParameter):
        title_param({"title": ["x" * 201]}, "Latency")
    # The portal's pages: anything but theme=dark is light (the navbar switch rewrites it).
    assert [page_theme({"theme": [v]}) for v in ("dark", "light", "blue")] == ["dark", "light", "light"]
