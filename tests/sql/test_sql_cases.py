"""SQL cases with their own inputs (bigquery-etl's tests/sql layout): tests/sql/<query>/<case>/.

Each case folder holds
- `<table>.csv` per input table: a header of `column:kind` (the contract's kinds: timestamp, date, string,
  number, integer, boolean), an empty cell is NULL. `<table>.<part>.csv` adds another file to the same table
  (a file published later). Tables the contract partitions are written as dt=YYYY-MM-DD folders by their
  time column's day, the others as one `<table>.parquet`.
- `params.toml`: `[params]` bound as the query's parameters (TOML datetimes are naive UTC), and `table`
  for a query that reads a contract table given as `$table` (Database.run_on).
- `expected.csv`: the rows in order, typed the same way; floats compare to 1e-9, the rest exactly.

A case's numbers come from its own few rows, worked out by hand in its params.toml, so a row added to the
shared fixture cannot move them.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from dashapp.config import Config
from dashapp.contract import TABLES
from dashapp.db import Database
from tests.fixtures import rows

HERE = Path(__file__).parent
QUERIES = HERE.parent.parent / "queries"
KINDS = ("timestamp", "date", "string", "number", "integer", "boolean")


def case_folders() -> list[Path]:
    return sorted(p.parent for p in HERE.glob("*/*/params.toml"))


def _value(kind: str, text: str):
    if text == "":
        return None
    if kind == "timestamp":
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "number":
        return float(text)
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"a boolean is true or false, got {text!r}")
        return text == "true"
    return text


def read_typed(path: Path) -> tuple[list[tuple[str, str]], list[dict]]:
    """A typed CSV's columns (name, kind) and its rows as Python values."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    columns = [tuple(header.split(":")) for header in frame.columns]
    for header, column in zip(frame.columns, columns, strict=True):
        if len(column) != 2 or column[1] not in KINDS:
            raise ValueError(f"{path}: column {header!r} must be name:kind, kind one of {', '.join(KINDS)}")
    rows = [
        {name: _value(kind, text) for (name, kind), text in zip(columns, record, strict=True)}
        for record in frame.itertuples(index=False)
    ]
    return columns, rows


def typed_frame(path: Path) -> pd.DataFrame:
    """A typed CSV as the DataFrame a pipeline would write: microsecond timestamps, nullable ints and booleans."""
    columns, rows = read_typed(path)
    dtypes = {
        "timestamp": "datetime64[us]",
        "date": "object",
        "string": "string",
        "number": "float64",
        "integer": "Int64",
        "boolean": "boolean",
    }
    frame = pd.DataFrame(rows, columns=[name for name, _ in columns])
    return frame.astype({name: dtypes[kind] for name, kind in columns})


def write_table(data_dir: Path, table: str, files: list[Path]) -> None:
    """Write a table's CSV files as parquet in the contract layout, one parquet file per CSV (and day)."""
    contract = TABLES[table]
    for source in files:
        frame = typed_frame(source)
        part = source.name.removesuffix(".csv").partition(".")[2] or "part-0"
        if contract.partitioned:
            days = frame[contract.time_column].dt.date
            for day, rows in frame.groupby(days, sort=True):
                folder = data_dir / table / f"dt={day.isoformat()}"
                folder.mkdir(parents=True, exist_ok=True)
                rows.to_parquet(folder / f"{part}.parquet", index=False)
        elif len(files) == 1:
            frame.to_parquet(data_dir / f"{table}.parquet", index=False)
        else:
            (data_dir / table).mkdir(exist_ok=True)
            frame.to_parquet(data_dir / table / f"{part}.parquet", index=False)


def inputs(case: Path) -> dict[str, list[Path]]:
    tables: dict[str, list[Path]] = {}
    for path in sorted(case.glob("*.csv")):
        if path.name == "expected.csv":
            continue
        table = path.name.split(".")[0]
        if table not in TABLES:
            raise ValueError(f"{path}: {table!r} is not a contract table")
        tables.setdefault(table, []).append(path)
    return tables


def test_every_case_folder_names_a_query_and_has_its_files():
    folders = case_folders()
    assert {f.parent.name for f in folders} >= {"quality_outliers", "service_health", "slo_requests"}
    for folder in folders:
        assert (QUERIES / f"{folder.parent.name}.sql").is_file(), folder
        assert (folder / "expected.csv").is_file(), folder
        assert inputs(folder), f"{folder} has no input table"


@pytest.mark.parametrize("case", case_folders(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sql_case(case: Path, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for table, files in inputs(case).items():
        write_table(data_dir, table, files)
    settings = tomllib.loads((case / "params.toml").read_text())
    db = Database(Config(data_dir=data_dir, cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", workers=1))
    query, params = case.parent.name, settings.get("params", {})
    got = db.run_on(settings["table"], query, **params) if "table" in settings else db.run(query, **params)
    columns, expected = read_typed(case / "expected.csv")
    assert list(got.columns) == [name for name, _ in columns]
    assert rows(got) == [{k: _approx(v) for k, v in row.items()} for row in expected]


def _approx(value):
    """Floats compare to 1e-9 (SQL and by-hand arithmetic differ in the last bits); ints, text, times exactly."""
    return pytest.approx(value, rel=1e-9, abs=1e-12) if isinstance(value, float) else value
