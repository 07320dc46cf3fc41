"""`dashapp check`: a data folder validated against the contract from parquet footers alone."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dashapp.check import TableReport, check_data_dir, format_report
from dashapp.contract import TABLES
from dashapp.demo import write_demo
from dashapp.sources import kinds_of


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A small demo written once; tests get their own copy to break."""
    out = tmp_path_factory.mktemp("pristine")
    return out, write_demo(out, rows=3_000, days=5, end=datetime(2026, 11, 20, 15, 37))


@pytest.fixture
def demo_dir(pristine, tmp_path) -> Path:
    return Path(shutil.copytree(pristine[0], tmp_path / "data"))


def by_table(reports: list[TableReport]) -> dict[str, TableReport]:
    return {r.table: r for r in reports}


def first_partition(folder: Path) -> Path:
    return sorted(folder.rglob("*.parquet"))[0]


def test_a_fresh_demo_passes_with_footer_row_counts(pristine, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("check must read footers, never the data")

    monkeypatch.setattr(pq, "read_table", refuse)
    monkeypatch.setattr(pq.ParquetFile, "read", refuse)
    out, counts = pristine
    reports = check_data_dir(out)
    assert [r.table for r in reports] == list(TABLES)
    assert all(r.status == "ok" and r.problems == () for r in reports)
    assert {r.table: r.rows for r in reports if r.table in counts} == counts
    assert by_table(reports)["predictions"].files == len(list((out / "predictions").iterdir()))
    assert by_table(reports)["market"].files == 1
    assert format_report(reports).splitlines()[-1] == "11 of 11 tables ok"


def test_a_deleted_table_is_missing_with_its_path_and_columns(demo_dir):
    (demo_dir / "trades.parquet").unlink()
    report = by_table(check_data_dir(demo_dir))["trades"]
    assert (report.status, report.files, report.rows) == ("missing", 0, 0)
    (problem,) = report.problems
    assert "trades/ or trades.parquet" in problem
    assert TABLES["trades"].expected_columns_text() in problem
    assert "price (number)" in problem
    summary = format_report(check_data_dir(demo_dir)).splitlines()[-1]
    assert summary == "10 of 11 tables ok; missing: trades"


def test_an_empty_table_folder_counts_as_missing(demo_dir):
    (demo_dir / "market.parquet").unlink()
    (demo_dir / "market").mkdir()
    (demo_dir / "market" / "_SUCCESS").touch()
    report = by_table(check_data_dir(demo_dir))["market"]
    assert report.status == "missing"
    assert report.problems[0].startswith("market/ holds no .parquet files")


def test_a_truncated_file_is_named_relative_to_the_data_folder(demo_dir):
    broken = first_partition(demo_dir / "predictions")
    broken.write_bytes(broken.read_bytes()[:100])
    (demo_dir / "training_runs.parquet").write_bytes(b"this is not parquet")
    reports = by_table(check_data_dir(demo_dir))
    report = reports["predictions"]
    assert report.status == "invalid"
    relative = broken.relative_to(demo_dir).as_posix()
    assert any(p.startswith(f"{relative}: not a readable parquet file") for p in report.problems)
    assert str(demo_dir) not in "".join(report.problems)
    assert report.files == len(list((demo_dir / "predictions").iterdir()))
    assert reports["training_runs"].problems[0].startswith("training_runs.parquet: not a readable parquet file")
    assert reports["training_runs"].rows == 0


def test_an_empty_file_is_invalid(demo_dir):
    (demo_dir / "outcomes" / "dt=2026-11-20" / "extra.parquet").write_bytes(b"")
    report = by_table(check_data_dir(demo_dir))["outcomes"]
    assert report.status == "invalid"
    assert report.problems[0].startswith("outcomes/dt=2026-11-20/extra.parquet: not a readable parquet file")


def test_a_missing_required_column_is_reported_for_its_file(demo_dir):
    path = demo_dir / "market.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["close"]), path)
    report = by_table(check_data_dir(demo_dir))["market"]
    assert report.status == "invalid"
    assert report.problems == ("market.parquet: missing required column close",)


def test_one_problem_line_covers_every_partition_that_shares_it(demo_dir):
    partitions = sorted((demo_dir / "outcomes").rglob("*.parquet"))
    for path in partitions:
        pq.write_table(pq.read_table(path).drop_columns(["true_label", "request_id"]), path)
    (problem,) = by_table(check_data_dir(demo_dir))["outcomes"].problems
    first = partitions[0].relative_to(demo_dir).as_posix()
    assert problem == f"{len(partitions)} files (first {first}): missing required columns request_id, true_label"


def test_a_mistyped_column_names_its_type_and_the_expected_kind(demo_dir):
    path = demo_dir / "trades.parquet"
    table = pq.read_table(path)
    table = table.set_column(table.schema.get_field_index("price"), "price", pc.cast(table["price"], pa.string()))
    pq.write_table(table, path)
    report = by_table(check_data_dir(demo_dir))["trades"]
    assert report.status == "invalid"
    assert report.problems == ("trades.parquet: column price is string, expected number",)


def test_an_optional_column_of_the_wrong_kind_is_reported(demo_dir):
    path = first_partition(demo_dir / "predictions")
    table = pq.read_table(path)
    index = table.schema.get_field_index("cache_hit")
    pq.write_table(table.set_column(index, "cache_hit", pc.cast(table["cache_hit"], pa.string())), path)
    (problem,) = by_table(check_data_dir(demo_dir))["predictions"].problems
    assert problem.endswith("column cache_hit is string, expected boolean")


def test_files_that_disagree_on_a_required_column_type_are_reported(demo_dir):
    path = first_partition(demo_dir / "predictions")
    table = pq.read_table(path)
    index = table.schema.get_field_index("status")
    pq.write_table(table.set_column(index, "status", pc.cast(table["status"], pa.int64())), path)
    (problem,) = by_table(check_data_dir(demo_dir))["predictions"].problems
    assert problem.startswith("files disagree on the type of status: int32 in ")
    assert f"int64 in {path.relative_to(demo_dir).as_posix()}" in problem


def test_schemas_that_differ_only_in_other_columns_are_fine(demo_dir):
    path = first_partition(demo_dir / "predictions")
    table = pq.read_table(path).drop_columns(["novelty", "source"])
    pq.write_table(table.append_column("extra", pa.array([1.0] * table.num_rows)), path)
    assert by_table(check_data_dir(demo_dir))["predictions"].status == "ok"


def test_hive_folder_names_supply_columns_and_files_must_not_repeat_them(demo_dir):
    market = pq.read_table(demo_dir / "market.parquet")
    (demo_dir / "market.parquet").unlink()
    for symbol in ("AAPL", "MSFT"):
        rows = market.filter(pc.equal(market["symbol"], symbol)).drop_columns(["symbol"])
        (demo_dir / "market" / f"symbol={symbol}").mkdir(parents=True)
        pq.write_table(rows, demo_dir / "market" / f"symbol={symbol}" / "part-0.parquet")
    assert by_table(check_data_dir(demo_dir))["market"].status == "ok"
    path = first_partition(demo_dir / "predictions")
    table = pq.read_table(path)
    pq.write_table(table.append_column("dt", pa.array(["x"] * table.num_rows)), path)
    (problem,) = by_table(check_data_dir(demo_dir))["predictions"].problems
    assert problem.endswith("column dt is also a partition folder name (dt=...)")


def test_files_being_published_and_markers_are_skipped(demo_dir):
    folder = demo_dir / "predictions" / "dt=2026-11-20"
    (folder / ".part-1.parquet.tmp").write_bytes(b"half written")
    (folder / ".part-2.parquet").write_bytes(b"half written")
    (folder / "_SUCCESS").touch()
    (demo_dir / "predictions" / "_staging").mkdir()
    (demo_dir / "predictions" / "_staging" / "part-0.parquet").write_bytes(b"half written")
    assert by_table(check_data_dir(demo_dir))["predictions"].status == "ok"


def test_a_table_in_both_layouts_reads_the_folder_and_says_so(demo_dir):
    shutil.copy(demo_dir / "reference.parquet", demo_dir / "predictions.parquet")
    report = by_table(check_data_dir(demo_dir))["predictions"]
    assert report.problems == ("both predictions/ and predictions.parquet exist; predictions.parquet is ignored",)
    assert report.rows > 0


@pytest.mark.parametrize(
    ("arrow_type", "kinds"),
    [
        (pa.string(), {"string"}),
        (pa.large_string(), {"string"}),
        (pa.dictionary(pa.int32(), pa.string()), {"string"}),
        (pa.int8(), {"integer", "number"}),
        (pa.uint64(), {"integer", "number"}),
        (pa.float32(), {"number"}),
        (pa.decimal128(10, 2), {"number"}),
        (pa.timestamp("ns"), {"timestamp", "date"}),
        (pa.timestamp("s", tz="UTC"), {"timestamp", "date"}),
        (pa.date32(), {"date"}),
        (pa.date64(), {"date"}),
        (pa.bool_(), {"boolean"}),
        (pa.binary(), set()),
        (pa.list_(pa.float64()), set()),
    ],
)
def test_arrow_types_map_to_contract_kinds(arrow_type, kinds):
    assert kinds_of(arrow_type) == kinds


def test_format_report_prints_a_line_per_table_then_problems_then_a_summary():
    reports = [
        TableReport("predictions", "ok", 30, 10_000_000),
        TableReport("trades", "missing", 0, 0, ("not found; expected trades/ or trades.parquet",)),
        TableReport("market", "invalid", 1, 9_408, ("market.parquet: missing required column close",)),
    ]
    assert format_report(reports).splitlines() == [
        "predictions  ok        30 files     10,000,000 rows",
        "trades       missing    0 files              0 rows",
        "    - not found; expected trades/ or trades.parquet",
        "market       invalid     1 file          9,408 rows",
        "    - market.parquet: missing required column close",
        "1 of 3 tables ok; missing: trades; invalid: market",
    ]
