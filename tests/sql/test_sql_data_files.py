"""What arrives in the data folder: missing tables, broken files, older schemas, new partitions, the cache."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest
from flask_caching.backends import FileSystemCache

from dashapp.db import Database
from dashapp.errors import DataUnavailable
from dashapp.sandbox import Sandbox
from tests.fixtures import ALL, DAY1, DAY2, new_partition, predictions, write_partitioned

REQUESTS = {**ALL, "bucket": 7 * 86400, "symbol": [], "model_version": None}
BY_DAY = {**ALL, "bucket": 86400, "symbol": [], "model_version": None}


def total(frame) -> int:
    return int(frame["requests"].sum())


def test_a_missing_table_raises_data_unavailable_naming_it_and_its_columns(db, data_dir):
    (data_dir / "pipeline_runs.parquet").unlink()
    with pytest.raises(DataUnavailable) as raised:
        db.run("ops_pipeline_runs", **ALL)
    error = raised.value
    assert error.table == "pipeline_runs"
    assert error.status == 503
    assert "pipeline_runs/ or pipeline_runs.parquet" in error.reason
    for column in ("pipeline", "stage", "run_id", "started_at", "finished_at", "status"):
        assert column in error.expected


def test_a_query_over_two_tables_names_the_missing_one(db, data_dir):
    for path in (data_dir / "outcomes").rglob("*.parquet"):
        path.unlink()
    with pytest.raises(DataUnavailable) as raised:
        db.run("sentiment_confusion", **ALL, symbol=[], model_version=None)
    assert raised.value.table == "outcomes"
    assert "true_label (string)" in raised.value.expected


BROKEN_FILES = {
    "garbage": lambda good: b"this is not parquet at all",
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "footer only": lambda good: b"PAR1" + b"\0" * 8 + b"PAR1",
}


BROKEN = "predictions/dt=2024-03-02/part-0.parquet"


@pytest.mark.parametrize("breakage", list(BROKEN_FILES))
def test_a_broken_parquet_file_is_skipped_loudly_and_the_rest_of_its_table_is_read(db, data_dir, breakage, caplog):
    broken = data_dir / BROKEN
    left = 11 - len(pd.read_parquet(broken))  # every row of the fixture but that day's
    broken.write_bytes(BROKEN_FILES[breakage](broken.read_bytes()))
    assert total(db.run("ops_requests", **REQUESTS)) == left == 7
    (note,) = db.skipped_notes(("predictions", "outcomes"))
    assert note.startswith(f"partial data: predictions skips 1 of 3 files ({BROKEN}: ")
    assert str(data_dir.resolve()) not in note  # a public message carries no absolute path
    assert sum(BROKEN in r.message for r in caplog.records) == 1  # logged once, not on every query
    db.run("ops_requests", **REQUESTS)
    assert sum(BROKEN in r.message for r in caplog.records) == 1
    assert len(db.run("ops_pipeline_runs", **ALL)) == 7


def test_a_file_of_another_schema_is_skipped_naming_the_column(db, data_dir):
    broken = data_dir / BROKEN
    pd.read_parquet(broken).assign(sentiment_score="high").to_parquet(broken, index=False)  # a type changed
    assert total(db.run("ops_requests", **REQUESTS)) == 7
    (note,) = db.skipped_notes(("predictions",))
    assert "column sentiment_score is large_string, expected number" in note


def test_a_table_whose_every_file_is_broken_is_unavailable_naming_one(db, data_dir):
    for path in (data_dir / "predictions").rglob("*.parquet"):
        path.write_bytes(b"garbage")
    with pytest.raises(DataUnavailable) as raised:
        db.run("ops_requests", **REQUESTS)
    assert raised.value.table == "predictions"
    assert "no readable parquet file: predictions/dt=2024-03-01/part-0.parquet: not a readable parquet" in (
        raised.value.reason
    )
    assert raised.value.reason.endswith("and 2 more")


def test_a_file_corrupt_inside_makes_its_table_unavailable_naming_why(db, data_dir):
    """A damaged page passes the footer probe; DuckDB's error names no file, so the table says it cannot be read."""
    broken = data_dir / BROKEN
    good = broken.read_bytes()
    column = pq.ParquetFile(broken).metadata.row_group(0).column(0)
    damaged = bytearray(good)
    damaged[
        column.data_page_offset + column.total_compressed_size // 2 : column.data_page_offset
        + column.total_compressed_size
    ] = b"\xff" * (column.total_compressed_size - column.total_compressed_size // 2)
    broken.write_bytes(bytes(damaged))
    with pytest.raises(DataUnavailable) as raised:
        db.run("ops_requests", **REQUESTS)
    assert raised.value.table == "predictions" and raised.value.reason.startswith("could not be read: ")
    assert len(db.run("ops_pipeline_runs", **ALL)) == 7
    broken.write_bytes(good)
    assert total(db.run("ops_requests", **REQUESTS)) == 11


def test_a_file_deleted_after_the_scan_is_dropped_and_the_query_rerun(db, data_dir, monkeypatch):
    """The race of a file removed between listing and reading: DuckDB names it, it is skipped, the query reruns."""
    views = Sandbox.ensure_views

    def delete_then_build(self, sources):
        (data_dir / BROKEN).unlink(missing_ok=True)
        return views(self, sources)

    monkeypatch.setattr(Sandbox, "ensure_views", delete_then_build)
    assert total(db.run("ops_requests", **REQUESTS)) == 7


def test_the_table_recovers_without_a_restart_once_the_broken_file_is_replaced(db, data_dir):
    path = data_dir / BROKEN
    good = path.read_bytes()
    path.write_bytes(b"garbage")
    assert total(db.run("ops_requests", **REQUESTS)) == 7
    path.write_bytes(good)
    assert total(db.run("ops_requests", **REQUESTS)) == 11
    assert db.skipped_notes(("predictions",)) == []


def test_a_file_being_published_under_a_temporary_name_is_never_read(db, data_dir):
    """Publishers write to .name or _name (or name.tmp) and rename; the half-written file is invisible until then.

    Markers like _SUCCESS.parquet are not read either.
    """
    final = data_dir / "predictions" / "dt=2024-03-04" / "part-0.parquet"
    final.parent.mkdir()
    full = new_partition(data_dir, "2024-03-04").read_bytes()
    final.unlink()
    window = {**REQUESTS, "end": datetime(2024, 3, 10)}
    for temporary in (".part-0.parquet", "_part-0.parquet", "part-0.parquet.tmp"):
        (final.parent / temporary).write_bytes(full[: len(full) // 2])  # half written
        assert total(db.run("ops_requests", **window)) == 11 and db.skipped_notes(("predictions",)) == []
        (final.parent / temporary).unlink()
    (final.parent / "_SUCCESS.parquet").write_bytes(b"")
    (final.parent / ".part-0.parquet").write_bytes(full)
    (final.parent / ".part-0.parquet").rename(final)
    assert total(db.run("ops_requests", **window)) == 12


def test_a_file_without_the_optional_cache_hit_column_reads_as_unknown(db, data_dir, tmp_path):
    frame = predictions().drop(columns=["cache_hit"])
    for path in (data_dir / "predictions").rglob("*.parquet"):
        path.unlink()
    write_partitioned(data_dir, "predictions", frame)
    result = db.run("ops_requests", **REQUESTS)
    assert total(result) == 11
    assert result["cache_hits"].sum() == 0 and result["cache_lookups"].sum() == 0
    kpis = db.run("overview_kpis", **ALL, symbol=[], model_version=None)
    assert kpis.loc[0, "predictions"] == 11 and kpis.loc[0, "cache_lookups"] == 0


def test_an_older_partition_without_cache_hit_is_read_alongside_newer_ones(db, data_dir):
    # Day 1 written by an older pipeline that did not log cache_hit (union_by_name fills NULL).
    day1 = data_dir / "predictions" / "dt=2024-03-01" / "part-0.parquet"
    pd.read_parquet(day1).drop(columns=["cache_hit"]).to_parquet(day1, index=False)
    result = db.run("ops_requests", **BY_DAY)
    assert result.groupby("bucket")["cache_lookups"].sum().to_dict() == {
        pd.Timestamp(DAY1): 0,
        pd.Timestamp(DAY2): 4,
        pd.Timestamp("2024-03-03"): 3,
    }


def test_extra_columns_in_the_data_are_allowed(db, data_dir):
    day3 = data_dir / "predictions" / "dt=2024-03-03" / "part-0.parquet"
    pd.read_parquet(day3).assign(source="reuters", vix=18.5).to_parquet(day3, index=False)
    assert total(db.run("ops_requests", **REQUESTS)) == 11


def test_a_new_partition_shows_up_in_the_next_result_of_the_same_database(db, data_dir):
    window = {**REQUESTS, "end": datetime(2024, 3, 10)}
    assert total(db.run("ops_requests", **window)) == 11
    new_partition(data_dir, "2024-03-04")
    assert total(db.run("ops_requests", **window)) == 12
    assert db.data_through("predictions") == datetime(2024, 3, 4, 12)


def test_a_partition_rewritten_in_place_is_read_again(db, data_dir):
    assert total(db.run("ops_requests", **REQUESTS)) == 11
    day3 = data_dir / "predictions" / "dt=2024-03-03" / "part-0.parquet"
    frame = pd.read_parquet(day3)
    pd.concat([frame, frame.iloc[[0]].assign(request_id="r13")]).to_parquet(day3, index=False)
    assert total(db.run("ops_requests", **REQUESTS)) == 12


class CountingDatabase(Database):
    """A Database that counts the queries it really executes (cache misses)."""

    executed = 0

    def _execute(self, query, params, sources):
        self.executed += 1
        return super()._execute(query, params, sources)


@pytest.fixture
def cached_db(config, tmp_path) -> CountingDatabase:
    return CountingDatabase(config, cache=FileSystemCache(str(tmp_path / "results"), default_timeout=0))


def test_a_repeated_query_is_served_from_the_filesystem_cache(cached_db):
    first = cached_db.run("ops_requests", **REQUESTS)
    second = cached_db.run("ops_requests", **REQUESTS)
    assert cached_db.executed == 1
    pd.testing.assert_frame_equal(first, second)


def test_a_new_partition_changes_the_cache_key_so_the_cached_result_is_not_reused(cached_db, data_dir):
    window = {**REQUESTS, "end": datetime(2024, 3, 10)}
    assert total(cached_db.run("ops_requests", **window)) == 11
    new_partition(data_dir, "2024-03-05")
    assert total(cached_db.run("ops_requests", **window)) == 12
    assert cached_db.executed == 2


@pytest.mark.parametrize(
    "change",
    [
        {"symbol": ["AAPL"]},
        {"model_version": "v2"},
        {"start": DAY2},
        {"end": DAY2},
        {"bucket": 86400},
    ],
)
def test_requests_that_differ_in_any_input_never_share_a_cache_entry(cached_db, change):
    baseline = cached_db.run("ops_requests", **REQUESTS)
    changed = cached_db.run("ops_requests", **{**REQUESTS, **change})
    assert cached_db.executed == 2
    assert not baseline.equals(changed)


def test_a_failing_cache_never_breaks_a_query(config, caplog):
    class BrokenCache:
        def get(self, key):
            raise ConnectionError("cache down")

        def set(self, key, value):
            raise ConnectionError("cache down")

    db = Database(config, cache=BrokenCache())
    assert total(db.run("ops_requests", **REQUESTS)) == 11
    assert "cache get failed" in caplog.text and "cache set failed" in caplog.text


def test_predictions_with_a_wrong_column_type_are_unavailable_with_a_hint(db, data_dir):
    for path in (data_dir / "predictions").rglob("*.parquet"):
        frame = pd.read_parquet(path)
        frame.assign(status=frame["status"].astype(str) + " OK").to_parquet(path, index=False)
    with pytest.raises(DataUnavailable) as raised:
        db.run("ops_requests", **REQUESTS)
    assert raised.value.table == "predictions"
    assert "column status is large_string, expected integer" in raised.value.reason


def test_a_stray_file_outside_the_dt_folders_is_skipped_naming_what_it_lacks(db, data_dir):
    pd.DataFrame({"x": [1]}).to_parquet(data_dir / "predictions" / "stray.parquet")
    assert total(db.run("ops_requests", **REQUESTS)) == 11
    (note,) = db.skipped_notes(("predictions",))
    assert "predictions/stray.parquet: lacks confidence, label, " in note and "which the other files have" in note


def test_a_table_folder_wins_over_the_single_file_even_when_empty(db, data_dir):
    # The folder layout wins (as `dashapp check` reports it); an empty folder means a missing table.
    (data_dir / "pipeline_runs").mkdir()
    (data_dir / "pipeline_runs" / "_SUCCESS").touch()
    with pytest.raises(DataUnavailable) as raised:
        db.run("ops_pipeline_runs", **ALL)
    assert raised.value.table == "pipeline_runs"
