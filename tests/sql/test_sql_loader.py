"""The query loader: one file per query, parameters found in the SQL, calls checked against them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashapp.contract import TABLES
from dashapp.sqlfiles import QUERIES_DIR, load_query, query_names
from tests.fixtures import ALL

RUNNABLE = [name for name in query_names() if not name.startswith("view_")]


def test_the_loader_finds_each_bound_parameter_and_the_tables_read():
    query = load_query("ops_requests")
    assert query.params == {"start", "end", "bucket", "symbol", "model_version"}
    assert query.tables == ("predictions",)
    assert query.description.startswith("ops_requests:")


def test_a_call_that_lacks_a_parameter_is_refused_naming_the_query_and_the_parameter(db):
    with pytest.raises(ValueError, match=r"query ops_requests: missing \['bucket'\]"):
        db.run("ops_requests", **ALL, symbol=[], model_version=None)


def test_a_call_that_adds_a_parameter_is_refused_naming_the_query_and_the_parameter(db):
    with pytest.raises(ValueError, match=r"query ops_pipeline_runs: unexpected \['symbol'\]"):
        db.run("ops_pipeline_runs", **ALL, symbol=["AAPL"])


def test_check_params_names_both_missing_and_unexpected_parameters():
    with pytest.raises(ValueError) as raised:
        load_query("ops_pipeline_runs").check_params({"start": 1, "stop": 2})
    assert str(raised.value) == "query ops_pipeline_runs: missing ['end'], unexpected ['stop']"


@pytest.mark.parametrize("name", ["no_such_query", "../queries/ops_requests", "ops_requests.sql", "Ops_Requests", ""])
def test_an_unknown_or_path_like_query_name_is_a_key_error(name):
    with pytest.raises(KeyError):
        load_query(name)


def test_parameters_inside_comments_and_casts_are_not_parameters(tmp_path: Path):
    (tmp_path / "sample_query.sql").write_text(
        "-- sample_query: a test.\n-- params: $start\n-- tables: predictions\n"
        "SELECT CAST($start AS DATE)::VARCHAR AS day -- $not_a_param\nFROM predictions\n"
    )
    query = load_query("sample_query", tmp_path)
    assert query.params == {"start"}
    assert query.tables == ("predictions",)


def test_a_header_naming_a_table_outside_the_contract_is_refused(tmp_path: Path):
    (tmp_path / "bad_tables.sql").write_text("-- bad_tables: oops.\n-- tables: secrets\nSELECT 1\n")
    with pytest.raises(ValueError, match="secrets"):
        load_query("bad_tables", tmp_path)


def test_identifiers_are_declared_in_the_header_and_quoted_when_rendered(tmp_path: Path):
    (tmp_path / "sample_query.sql").write_text(
        "-- sample_query: a test.\n-- params: $start\n-- identifiers: columns (checked names)\n"
        "-- tables: predictions\nSELECT {columns} FROM predictions WHERE ts >= $start\n"
    )
    query = load_query("sample_query", tmp_path)
    assert (query.identifiers, query.caller_params) == ({"columns"}, {"start", "columns"})
    text, bound = query.render({"start": 1, "columns": ["a", 'b"c']})
    assert text.endswith('SELECT "a", "b""c" FROM predictions WHERE ts >= $start\n') and bound == {"start": 1}


def test_an_identifier_fragment_is_repeated_per_column_with_its_position(tmp_path: Path):
    (tmp_path / "sample_query.sql").write_text(
        "-- sample_query: a test.\n-- params: $edges\n-- identifiers: columns\n-- tables: predictions\n"
        "SELECT {columns: histogram(@, $edges[#]) AS @} FROM predictions\n"
    )
    text, bound = load_query("sample_query", tmp_path).render({"edges": [[1.0]], "columns": ["a", "#@"]})
    assert (
        text.splitlines()[-1]
        == 'SELECT histogram("a", $edges[1]) AS "a", histogram("#@", $edges[2]) AS "#@" FROM predictions'
    )
    assert bound == {"edges": [[1.0]]}


@pytest.mark.parametrize("header", ["", "-- identifiers: other\n"])
def test_an_identifier_placeholder_missing_from_the_header_is_refused(tmp_path: Path, header):
    (tmp_path / "bad_ids.sql").write_text(f"-- bad_ids: oops.\n{header}-- tables: predictions\nSELECT {{x}} FROM t\n")
    with pytest.raises(ValueError, match="identifiers"):
        load_query("bad_ids", tmp_path)


@pytest.mark.parametrize("name", query_names())
def test_every_query_file_has_a_header_that_documents_its_parameters(name):
    query = load_query(name)
    text = (QUERIES_DIR / f"{name}.sql").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("--"))
    assert query.description.startswith(f"{name}:"), "the first line names the query and says what it does"
    for param in query.params:
        assert f"${param}" in header, f"{name}.sql binds ${param} but its header does not mention it"
    assert all(table in TABLES for table in query.tables)


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_query_file_has_a_test_in_tests_sql(name):
    here = Path(__file__).parent
    tests_text = "\n".join(p.read_text() for p in here.glob("test_*.py") if p.name != Path(__file__).name)
    special = {"meta_extent": "data_through(", "meta_settings": "settings()", "meta_columns": "db.columns("}
    assert re.search(rf'"{name}"', tests_text) or special.get(name, "\0") in tests_text


def test_a_view_macro_that_calls_another_is_created_after_it(tmp_path: Path):
    from dashapp.sqlfiles import view_macros

    (tmp_path / "view_a.sql").write_text(
        "-- view_a: calls b.\n-- tables: predictions\nCREATE OR REPLACE MACRO a_of(x) AS TABLE SELECT * FROM b_of(x)\n"
    )
    (tmp_path / "view_b.sql").write_text(
        "-- view_b: plain.\n-- tables: predictions\nCREATE OR REPLACE MACRO b_of(x) AS TABLE SELECT x\n"
    )
    assert [q.name for q in view_macros(tmp_path)] == ["view_b", "view_a"]
    (tmp_path / "view_b.sql").write_text(
        "-- view_b: calls a.\n-- tables: predictions\nCREATE OR REPLACE MACRO b_of(x) AS TABLE SELECT * FROM a_of(x)\n"
    )
    load_query.cache_clear()
    with pytest.raises(ValueError, match="cycle"):
        view_macros(tmp_path)
