"""queries/meta_*.sql: how fresh a table is ("data through ..."), filter options and the settings read-back."""

from __future__ import annotations

from datetime import datetime

import pytest

from dashapp.errors import DataUnavailable
from tests.fixtures import assert_rows


@pytest.mark.parametrize(
    ("table", "last"),
    [
        ("predictions", datetime(2024, 3, 3, 18)),
        ("outcomes", datetime(2024, 3, 3, 20)),
        ("pipeline_runs", datetime(2024, 3, 3, 2)),
    ],
)
def test_data_through_gives_a_tables_newest_time(db, table, last):
    assert db.data_through(table) == last


@pytest.mark.parametrize(
    ("table", "first"),
    [
        ("predictions", datetime(2024, 3, 1, 9)),  # read from the oldest dt partition only
        ("outcomes", datetime(2024, 3, 1, 12)),
        ("pipeline_runs", datetime(2024, 3, 1, 1)),  # one file: the whole table
    ],
)
def test_data_from_gives_a_tables_oldest_time(db, table, first):
    assert db.data_from(table) == first


def test_data_through_of_a_missing_table_names_it_and_its_columns(db, data_dir):
    (data_dir / "training_runs.parquet").unlink()
    with pytest.raises(DataUnavailable) as raised:
        db.data_through("training_runs")
    assert raised.value.table == "training_runs"
    assert "training_runs.parquet" in raised.value.reason
    assert "model_version (string)" in raised.value.expected


def test_data_through_refuses_a_table_without_a_time_column(db):
    with pytest.raises(ValueError, match="reference has no time column"):
        db.data_through("reference")


def test_filter_options_list_each_symbol_and_version(db):
    assert_rows(
        db.run("meta_filter_options"),
        [
            {"kind": "model_version", "value": "v1"},
            {"kind": "model_version", "value": "v2"},
            {"kind": "symbol", "value": "AAPL"},
            {"kind": "symbol", "value": "MSFT"},
            {"kind": "symbol", "value": "TSLA"},
        ],
    )


def test_settings_read_back_the_sandbox(db, config):
    settings = db.settings()
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["allow_community_extensions"] == "false"
    assert settings["threads"] == str(config.duckdb_threads)
    assert str(config.data_dir.resolve()) + "/" in settings["allowed_directories"]


def test_a_query_that_reads_no_table_runs_while_contract_tables_are_missing(db):
    # The fixture folder has no `reference`, `market` ... table; meta_settings reads none of them.
    frame = db.run("meta_settings", names=["lock_configuration"])
    assert frame.values.tolist() == [["lock_configuration", "true"]]
