"""The Sentiment page's training curves: loss and validation metrics per step, one legend entry per run."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.charts import get_chart, render
from dashapp.charts.training import MAX_POINTS
from dashapp.errors import DataUnavailable
from dashapp.pages.panels import render_panel

SPEC = get_chart("sentiment.training_curves")


def drawn(rendered) -> go.Figure:
    """The figure as its builder returns it (the cached dict packs arrays as binary)."""
    return SPEC.figure(rendered.data, rendered.params)


def test_losses_and_scores_get_a_panel_each_and_each_run_one_legend_entry(shared_db):
    rendered = render(SPEC, {}, shared_db)  # training predates any window: the default one shows every run
    figure = drawn(rendered)
    assert [figure.layout.yaxis.title.text, figure.layout.yaxis2.title.text] == ["loss", "score"]
    assert figure.layout.yaxis2.tickformat == ".0%"
    by_axis = {(t.yaxis, t.legendgroup): t for t in figure.data}
    assert sorted(by_axis) == [("y", "t1"), ("y", "t2"), ("y", "t3"), ("y2", "t1"), ("y2", "t2"), ("y2", "t3")]
    assert list(by_axis["y", "t2"].y) == [0.80, 0.52, 0.40] and list(by_axis["y2", "t3"].y) == [0.80, 0.86, 0.88]
    # v1 was trained twice: its runs are told apart, and the earlier one is drawn fainter.
    assert [t.name for t in figure.data if t.showlegend] == ["v1 (t1)", "v1 (t2)", "v2"]
    assert by_axis["y", "t1"].opacity < by_axis["y", "t2"].opacity == 1
    assert by_axis["y", "t1"].line.color == by_axis["y", "t2"].line.color != by_axis["y", "t3"].line.color
    assert "every training run, whatever the window" in rendered.notes
    assert any("18 logged points drawn as 17" in note for note in rendered.notes)  # t2 logged step 20 twice


def test_one_metric_of_one_version_draws_one_panel(shared_db):
    rendered = render(SPEC, {"model_version": ["v2"], "metric": ["val_accuracy"]}, shared_db)
    figure = drawn(rendered)
    assert [(t.name, t.yaxis, list(t.x)) for t in figure.data] == [("v2", "y", [10, 20, 30])]
    assert figure.layout.yaxis.title.text == "score" and figure.layout.xaxis.title.text == "step"


def test_a_metric_nobody_logged_is_an_explicit_empty_state(shared_db):
    rendered = render(SPEC, {"metric": ["val_loss"]}, shared_db)
    figure = go.Figure(rendered.figure)
    assert figure.data == () and figure.layout.annotations[0].text == "No training metrics logged for this selection"


def test_long_runs_are_drawn_with_at_most_max_points_per_metric(shared_db):
    frame = render(SPEC, {}, shared_db).data
    assert frame.groupby(["run_id", "metric"]).size().max() <= MAX_POINTS


def test_without_the_optional_table_the_panel_says_which_table_and_what_it_needs(db, data_dir):
    (data_dir / "training_metrics.parquet").unlink()
    try:
        render(SPEC, {}, db)
    except DataUnavailable as exc:
        assert exc.table == "training_metrics"
    else:
        raise AssertionError("rendered without its table")
    figure, footer, settled = render_panel("", {"chart": SPEC.id}, db)
    assert settled and go.Figure(figure).layout.annotations[0].text == "training_metrics unavailable"
    text = str(footer)
    assert "no parquet files at training_metrics/ or training_metrics.parquet" in text
    assert "run_id (string), key (string), step (integer), ts (timestamp), value (number)" in text
