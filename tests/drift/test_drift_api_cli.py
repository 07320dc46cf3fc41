"""GET /api/drift and `dashapp drift`: the same per-feature JSON, and a 400 that names a bad parameter."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from dashapp.cli import main
from tests.fixtures import predictions, reference

WINDOW = "start=2024-03-01&end=2024-03-04"


def test_the_api_returns_one_object_per_feature_with_scipys_numbers(client):
    response = client.get(f"/api/drift?{WINDOW}")
    assert response.status_code == 200
    (words,) = response.get_json()
    assert (words["feature"], words["kind"], words["n_current"], words["n_reference"]) == (
        "headline_words",
        "numeric",
        11,
        10,
    )
    expected = stats.ks_2samp(reference()["headline_words"], predictions()["headline_words"], method="asymp")
    assert words["ks_statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    assert words["ks_pvalue"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert words["status"] in ("ok", "warning", "critical")
    assert sum(b["reference_share"] for b in words["bins"]) == pytest.approx(1.0, abs=1e-3)  # shares clipped at 1e-4


def test_the_previous_window_baseline_is_chosen_by_the_reference_parameter(client):
    (words,) = client.get("/api/drift?start=2024-03-03&end=2024-03-04&reference=previous").get_json()
    assert (words["n_current"], words["n_reference"]) == (3, 4)  # 03-03 against 03-02


@pytest.mark.parametrize(
    ("query", "param"),
    [("reference=yesterday", "reference"), ("start=soon", "start"), ("colour=red", "colour")],
)
def test_a_bad_parameter_is_a_400_naming_it(client, query, param):
    response = client.get(f"/api/drift?{WINDOW}&{query}")
    assert response.status_code == 400
    assert response.get_json()["param"] == param


def test_the_cli_prints_the_same_json_and_a_table(client, data_dir, capsys):
    assert main(["drift", "--data", str(data_dir), "--start", "2024-03-01", "--end", "2024-03-04", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == client.get(f"/api/drift?{WINDOW}").get_json()
    assert main(["drift", "--data", str(data_dir), "--start", "2024-03-01", "--end", "2024-03-04"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["feature", "kind", "status", "psi", "decided", "by"]
    assert table[1].startswith("headline_words") and str(round(printed[0]["psi"], 4)) in table[1]


def test_the_cli_names_a_bad_window_and_exits_2(data_dir, capsys):
    assert main(["drift", "--data", str(data_dir), "--start", "soon"]) == 2
    assert "start: must be an ISO date" in capsys.readouterr().err


def test_warm_fills_the_cache_with_every_charts_default_views(data_dir, tmp_path, monkeypatch, capsys):
    from dashapp.charts import REGISTRY

    monkeypatch.setenv("DASHAPP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["warm", "--days", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(REGISTRY)
    assert len(list((tmp_path / "cache").rglob("*"))) > len(REGISTRY)  # the entries it wrote
    assert main(["warm", "--days", "7", "--strict"]) == 0
