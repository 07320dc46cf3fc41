"""The DuckDB sandbox self-test (docs/reliability.md, catalogue item 4), on the Database's own connection."""

from __future__ import annotations

import duckdb
import pytest

from tests.fixtures import ALL

ESCAPES = {
    "read a system file": "SELECT * FROM read_csv('/etc/passwd')",
    "read a file as text": "SELECT * FROM read_text('/etc/hostname')",
    "list the root folder": "SELECT * FROM glob('/*')",
    "climb out of the data folder": "SELECT * FROM read_csv('{data_dir}/../../../../etc/passwd')",
    "attach a database": "ATTACH '/tmp/dashapp-escape.duckdb' AS escape",
    "install an extension": "INSTALL httpfs",
    "load an extension": "LOAD httpfs",
    "turn external access back on": "SET enable_external_access = true",
    "unlock the configuration": "SET lock_configuration = false",
    "raise the memory limit": "SET memory_limit = '64GB'",
    "raise the memory limit by pragma": "PRAGMA memory_limit = '64GB'",
    "reset the memory limit": "RESET memory_limit",
    "widen the allowed folders": "SET allowed_directories = ['/']",
    "write outside the data folder": "COPY (SELECT 42 AS answer) TO '/tmp/dashapp-escape.csv'",
    "read a URL": "SELECT * FROM read_csv('http://169.254.169.254/latest/meta-data/')",
}


@pytest.mark.parametrize("statement", list(ESCAPES.values()), ids=list(ESCAPES))
def test_the_sandbox_refuses_to(db, data_dir, statement):
    db.run("ops_pipeline_runs", **ALL)  # the connection is open and serving
    with pytest.raises(duckdb.Error):
        db.sandbox.connection().execute(statement.format(data_dir=data_dir)).fetchall()


def test_the_sandbox_still_reads_the_data_folder(db, data_dir):
    con = db.sandbox.connection()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{data_dir}/pipeline_runs.parquet')").fetchone() == (10,)
    files = con.execute(f"SELECT count(*) FROM glob('{data_dir}/predictions/*/*.parquet')").fetchone()
    assert files == (3,)


def test_the_sandbox_leaves_the_queries_working_after_refusing(db):
    with pytest.raises(duckdb.Error):
        db.sandbox.connection().execute("SELECT * FROM read_csv('/etc/passwd')")
    assert len(db.run("ops_pipeline_runs", **ALL)) == 7


def test_the_settings_read_back_external_access_off_and_the_configuration_locked(db):
    settings = db.settings()
    assert (settings["enable_external_access"], settings["lock_configuration"]) == ("false", "true")


@pytest.mark.xfail(
    strict=True,
    reason="DuckDB's allowed_directories grants write access too; no dashapp SQL issues COPY (docs/reliability.md)",
)
def test_the_sandbox_refuses_to_write_into_the_data_folder(db, data_dir):
    with pytest.raises(duckdb.Error):
        db.sandbox.connection().execute(f"COPY (SELECT 1 AS x) TO '{data_dir}/planted.csv'")
