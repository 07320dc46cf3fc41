"""One error body: whatever a chart's render raises, the API, the embed page and the panel say the same thing."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from html import escape

import pytest

from dashapp.charts import REGISTRY
from dashapp.errors import BadParameter, DataUnavailable, QueryRefused, error_body
from tests.app.test_app_callbacks import GOOD_SEARCH, graph_id, panel, text_of

CHART = "ops.latency"
FAILURES = {
    "bad-parameter": BadParameter("symbol", "names no known symbol: ZZZ"),
    "data-unavailable": DataUnavailable("predictions", "no parquet files", "ts (timestamp), symbol (string)"),
    "query-refused": QueryRefused("this view needed more than 20 s and was stopped", reason="deadline"),
    "unexpected": RuntimeError("secret detail"),
}


@pytest.fixture
def failing(monkeypatch, request):
    """The chart whose data raises the test's failure, as render() would see it from a query."""
    exc = FAILURES[request.param]

    def data(db, params):
        raise exc

    monkeypatch.setitem(REGISTRY, CHART, replace(REGISTRY[CHART], data=data))
    return exc


def test_each_error_has_its_status_and_keys():
    bodies = {name: error_body(exc, "test").as_json() for name, exc in FAILURES.items()}
    assert bodies["bad-parameter"] == {
        "ok": False,
        "error": "symbol: names no known symbol: ZZZ",
        "status": 400,
        "param": "symbol",
    }
    assert bodies["data-unavailable"] == {
        "ok": False,
        "error": "predictions: no parquet files",
        "status": 503,
        "table": "predictions",
        "expected_columns": "ts (timestamp), symbol (string)",
    }
    assert bodies["query-refused"]["status"] == 503 and bodies["query-refused"]["reason"] == "deadline"
    assert bodies["unexpected"]["status"] == 500 and "secret" not in bodies["unexpected"]["error"]


def test_an_unexpected_error_logs_its_traceback_under_the_id_it_answers_with(caplog):
    failure = RuntimeError("secret detail")
    try:
        raise failure
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR):
            body = error_body(exc, "/api/charts/ops.latency")
    assert re.fullmatch(r"internal error \(id [0-9a-f]{12}\)", body.error) and body.error_id in body.error
    record = caplog.records[-1]
    assert f"error id {body.error_id}" in record.getMessage() and record.exc_info[1] is failure


@pytest.mark.parametrize("failing", sorted(FAILURES), indirect=True)
def test_the_api_the_embed_and_the_panel_answer_with_the_same_body(failing, client, db, caplog):
    expected = error_body(failing, "test")
    api = client.get(f"/api/charts/{CHART}{GOOD_SEARCH}")
    embed = client.get(f"/embed/{CHART}{GOOD_SEARCH}")
    figure, footer = panel(GOOD_SEARCH, graph_id(CHART), db)
    body, page, said = api.get_json(), embed.get_data(as_text=True), text_of(footer)

    assert api.status_code == expected.status and body == {**expected.as_json(), "error": body["error"]}
    assert "secret" not in api.get_data(as_text=True) + page + said and "Traceback" not in page
    if expected.error_id is None:  # an error of ours: its message, word for word, everywhere
        assert body["error"] == expected.error and escape(expected.error, quote=False) in page
        assert expected.error.removeprefix(f"{expected.table}: ") in said
    else:  # an unexpected one: each surface names the id its traceback is logged under
        (api_id,) = re.findall(r"id ([0-9a-f]{12})", body["error"])
        (embed_id,) = re.findall(r"logged with id ([0-9a-f]{12})", page)
        (panel_id,) = re.findall(r"logged with id ([0-9a-f]{12})", said)
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert all(f"error id {i}" in logged for i in (api_id, embed_id, panel_id))
    # A missing table is the embed's explanatory empty state, which auto-refresh keeps polling: a 200.
    assert embed.status_code == (200 if expected.table else expected.status)
