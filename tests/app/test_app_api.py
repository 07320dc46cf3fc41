"""The HTTP API through Flask's test client: health, the registry, JSON and CSV per chart, one error shape."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote, urlencode

import pandas as pd
import plotly.io as pio
import pytest

from dashapp.charts import REGISTRY, get_chart, render
from tests.fixtures import chart_args, new_partition

CHART_IDS = sorted(REGISTRY)
WINDOW = "start=2024-03-01&end=2024-03-04"
# One bad value per parameter kind (Param.kind).
BAD_VALUES = {
    "time": "2024-13-01",
    "bucket": "1s",
    "text": "x' OR '1'='1",
    "number": "abc",
    "choice": "yesterday",
    "integer": "1.5",
    "date": "2024-02-30",
}


def window(chart_id: str) -> str:
    """The fixture data's window (or period) as a query string, without the parameters given after it."""
    return urlencode(chart_args(chart_id), doseq=True)


PARAMS = [(chart_id, param) for chart_id in CHART_IDS for param in get_chart(chart_id).params]


def assert_error(response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status and body["error"]
    if param is not None:
        assert body["param"] == param
    return body


def test_health_answers_ok(shared_client):
    response = shared_client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_the_registry_lists_every_chart_with_its_parameters(shared_client):
    body = shared_client.get("/api/charts").get_json()
    assert body["ok"] is True
    listed = {chart["id"]: chart for chart in body["charts"]}
    assert set(listed) == set(REGISTRY)
    for chart_id, spec in REGISTRY.items():
        chart = listed[chart_id]
        assert chart["title"] == spec.title and chart["page"] == spec.page
        assert [p["name"] for p in chart["params"]] == [p.name for p in spec.params]
        assert all({"name", "type", "default", "repeatable", "help"} <= set(p) for p in chart["params"])


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_answers_as_json_with_its_figure_and_coverage(shared_client, chart_id):
    response = shared_client.get(f"/api/charts/{chart_id}?format=json&{window(chart_id)}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["ok"] is True and body["chart"] == chart_id
    assert body["figure"]["data"] or body["figure"]["layout"]["annotations"]
    assert "data through" in body["coverage"]
    assert isinstance(body["notes"], list)
    figure = pio.from_json(json.dumps(body["figure"]))  # validates every property against plotly's schema
    assert figure.layout.height == get_chart(chart_id).height


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_every_chart_answers_as_csv_with_the_data_columns(shared_app, shared_client, chart_id):
    response = shared_client.get(f"/api/charts/{chart_id}?format=csv&{window(chart_id)}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="{chart_id}.csv"' in response.headers["Content-Disposition"]
    table = pd.read_csv(io.StringIO(response.get_data(as_text=True)))
    db = shared_app.server.extensions["dashapp"].db
    expected = render(get_chart(chart_id), chart_args(chart_id), db).data
    assert list(table.columns) == list(expected.columns)
    assert len(table) == len(expected)


def test_the_default_format_is_json(shared_client):
    assert shared_client.get(f"/api/charts/ops.latency?{WINDOW}").get_json()["chart"] == "ops.latency"


@pytest.mark.parametrize(("chart_id", "param"), PARAMS, ids=[f"{c}-{p.name}" for c, p in PARAMS])
def test_a_bad_value_for_any_parameter_is_a_400_naming_it(shared_client, chart_id, param):
    value = quote(BAD_VALUES[param.kind])
    query = f"/api/charts/{chart_id}?{window(chart_id)}&{param.name}={value}"
    body = assert_error(shared_client.get(query), 400, param.name)
    assert set(body) == {"ok", "error", "param", "status"}


def test_a_chart_without_data_in_the_window_is_still_a_200(shared_client):
    body = shared_client.get("/api/charts/ops.latency?start=2023-01-01&end=2023-01-02").get_json()
    assert body["ok"] is True
    assert body["figure"]["layout"]["annotations"][0]["text"] == "No requests in this window"


def test_an_unknown_chart_is_a_404_in_json(shared_client):
    body = assert_error(shared_client.get("/api/charts/ops.nope"), 404)
    assert "ops.nope" in body["error"]


def test_an_unknown_format_is_a_400_naming_format(shared_client):
    body = assert_error(shared_client.get(f"/api/charts/ops.latency?format=xlsx&{WINDOW}"), 400, "format")
    assert "xlsx" in body["error"]


def test_an_unknown_parameter_is_a_400_naming_it(shared_client):
    body = assert_error(shared_client.get(f"/api/charts/ops.latency?{WINDOW}&colour=red"), 400, "colour")
    assert "start, end" in body["error"]  # says what is accepted


def test_reserved_parameters_are_accepted_by_every_chart(shared_client):
    response = shared_client.get(f"/api/charts/ops.latency?{WINDOW}&theme=dark&title=Latency&token=abc&format=json")
    assert response.status_code == 200


def test_a_missing_table_is_a_503_naming_the_table_and_its_columns(client, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    body = assert_error(client.get(f"/api/charts/ops.pipeline_runs?{WINDOW}"), 503)
    assert body["table"] == "pipeline_runs"
    assert "started_at (timestamp)" in body["expected_columns"]
    assert "pipeline_runs.parquet" in body["error"]


def test_a_broken_file_is_skipped_and_named_in_the_notes_relative_to_the_data_folder(client, data_dir):
    (data_dir / "predictions" / "dt=2024-03-02" / "part-0.parquet").write_bytes(b"not parquet")
    response = client.get(f"/api/charts/ops.latency?{WINDOW}")
    assert response.status_code == 200
    (note,) = [n for n in response.get_json()["notes"] if n.startswith("partial data")]
    assert note.startswith("partial data: predictions skips 1 of 3 files (predictions/dt=2024-03-02/part-0.parquet: ")
    assert client.get(f"/api/charts/ops.pipeline_runs?{WINDOW}").status_code == 200


def test_a_table_without_a_readable_file_is_a_503_naming_the_file(client, data_dir):
    for path in (data_dir / "predictions").rglob("*.parquet"):
        path.write_bytes(b"not parquet")
    body = assert_error(client.get(f"/api/charts/ops.latency?{WINDOW}"), 503)
    assert body["table"] == "predictions"
    assert "predictions/dt=2024-03-01/part-0.parquet" in body["error"]


UNKNOWN_API_PATHS = [
    "/api/",
    "/api/nothing",
    "/api/charts/ops.latency/extra",
    "/api/../etc/passwd",
    "/api/charts/a/b/c",
]


@pytest.mark.parametrize("path", UNKNOWN_API_PATHS)
def test_an_unknown_api_path_is_a_404_in_json(shared_client, path):
    response = shared_client.get(path)
    assert response.status_code == 404
    assert response.get_json()["ok"] is False


def test_a_new_partition_shows_up_in_the_next_response_through_the_cache(client, data_dir):
    url = "/api/charts/ops.throughput?format=csv&start=2024-03-01&end=2024-03-10&bucket=7d"

    def requests_total() -> int:
        rows = list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))
        return sum(int(row["requests"]) for row in rows)

    assert requests_total() == 11
    assert requests_total() == 11  # now from the filesystem cache
    new_partition(data_dir, "2024-03-05")
    assert requests_total() == 12


HOSTILE_URLS = [
    "/api/charts/ops.latency?start=2024-13-01",
    "/api/charts/ops.latency?symbol=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "/api/charts/ops.latency?symbol=x%27%20OR%20%271%27%3D%271",
    "/api/charts/ops.latency?symbol=..%2F..%2Fetc%2Fpasswd",
    "/api/charts/ops.latency?model_version=%00",
    "/api/charts/ops.latency?bucket=" + "9" * 10_000,
    "/api/charts/ops.latency?start=0001-01-01&end=0001-01-02",
    "/api/charts/overview.kpis?start=0001-01-01&end=0001-01-02",
    "/api/charts/overview.kpis?start=9999-12-30&end=9999-12-31",
    "/api/charts/alerts.current?start=0001-01-01&end=0001-01-08",
    "/api/charts/ops.latency?start=now-99999w",
    "/api/charts/" + "x" * 5000,
    "/api/charts/ops.latency?format=csv&format=json",
    "/api/charts/%3Cscript%3E",
    "/api/drift?start=0001-01-01&end=0001-01-02&reference=previous",
    "/api/drift?start=9999-12-30&end=9999-12-31",
    "/api/charts/drift.heatmap?start=0001-01-01&end=0001-01-03&reference=previous&bucket=1h",
    "/api/charts/drift.distribution?feature=..%2Fetc",
    "/api/charts/drift.distribution?feature=headline_words%27%29%3B--",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_no_response_leaks_a_traceback_or_the_data_path_and_none_is_a_500(shared_client, shared_config, url):
    response = shared_client.get(url)
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text
    assert "Traceback" not in text
    data_dir = shared_config.data_dir
    assert str(data_dir) not in text and str(data_dir.resolve()) not in text
    assert response.mimetype in ("application/json", "text/csv")  # reflected text is never served as HTML


@pytest.mark.parametrize("breakage", ["missing", "broken"])
def test_data_errors_leak_no_absolute_path(client, data_dir, breakage):
    target = data_dir / "predictions" / "dt=2024-03-02" / "part-0.parquet"
    if breakage == "missing":
        for path in (data_dir / "predictions").rglob("*.parquet"):
            path.unlink()
    else:
        target.write_bytes(b"PAR1 garbage")
    for chart_id in CHART_IDS:
        text = client.get(f"/api/charts/{chart_id}?{WINDOW}").get_data(as_text=True)
        assert "Traceback" not in text and str(data_dir.resolve()) not in text
