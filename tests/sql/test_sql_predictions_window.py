"""The predictions_in table macro (queries/view_predictions_in.sql): window, symbol and version filters.

Exercised through ops_requests and overview_volume, whose rows are easy to count by hand.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from dashapp.config import Config
from dashapp.db import Database
from tests.fixtures import ALL, DAY1, DAY2, DAY3, DAY4, assert_rows, predictions, write_single

DAY = 86400
HOUR = 3600


def requests(db, start=DAY1, end=DAY4, bucket=DAY, symbol=(), model_version=None):
    return db.run("ops_requests", start=start, end=end, bucket=bucket, symbol=list(symbol), model_version=model_version)


def total(frame) -> int:
    return int(frame["requests"].sum())


def request_row(bucket, version, requests, server_errors, client_errors, cache_hits, cache_lookups) -> dict:
    return {
        "bucket": bucket,
        "model_version": version,
        "requests": requests,
        "server_errors": server_errors,
        "client_errors": client_errors,
        "cache_hits": cache_hits,
        "cache_lookups": cache_lookups,
    }


def test_symbol_filter_keeps_only_that_symbols_rows(db):
    # AAPL: r01 (d1 v1 200 hit), r03 (d1 v2 500 cache unknown), r05 (d2 v1 404 hit), r08 (d2 v2 200 miss),
    # r10 (d3 v1 200 hit).
    assert_rows(
        requests(db, symbol=["AAPL"]),
        [
            request_row(DAY1, "v1", 1, 0, 0, 1, 1),
            request_row(DAY1, "v2", 1, 1, 0, 0, 0),
            request_row(DAY2, "v1", 1, 0, 1, 1, 1),
            request_row(DAY2, "v2", 1, 0, 0, 0, 1),
            request_row(DAY3, "v1", 1, 0, 0, 1, 1),
        ],
    )


def test_several_symbols_are_combined_with_or(db):
    # MSFT: r02 r06 r09; TSLA: r04 r07 r11.
    frame = requests(db, symbol=["MSFT", "TSLA"], bucket=7 * DAY, start=DAY1, end=DAY4)
    assert total(frame) == 6


def test_model_version_filter_keeps_only_that_version(db):
    # v2: r03 (d1 500 unknown), r06 (d2 200 hit), r08 (d2 200 miss), r11 (d3 500 hit).
    assert_rows(
        requests(db, model_version="v2"),
        [
            request_row(DAY1, "v2", 1, 1, 0, 0, 0),
            request_row(DAY2, "v2", 2, 0, 0, 1, 2),
            request_row(DAY3, "v2", 1, 1, 0, 1, 1),
        ],
    )


def test_symbol_and_model_version_filters_apply_together(db):
    # AAPL and v1: r01, r05, r10.
    frame = requests(db, symbol=["AAPL"], model_version="v1")
    assert frame["bucket"].tolist() == [DAY1, DAY2, DAY3]
    assert frame["requests"].tolist() == [1, 1, 1]


def test_an_empty_symbol_list_means_every_symbol(db):
    everything = requests(db)
    assert total(everything) == 11
    per_symbol = sum(total(requests(db, symbol=[s])) for s in ("AAPL", "MSFT", "TSLA"))
    assert per_symbol == 11


def test_an_unknown_symbol_or_version_gives_no_rows(db):
    assert requests(db, symbol=["NOPE"]).empty
    assert requests(db, model_version="v9").empty


def test_the_window_includes_start_and_excludes_end(db):
    # r05 is exactly at 2024-03-02 00:00: outside [DAY1, DAY2), inside [DAY2, DAY3).
    first_day = requests(db, start=DAY1, end=DAY2)
    second_day = requests(db, start=DAY2, end=DAY3)
    assert total(first_day) == 4  # r01 .. r04, r04 at 23:59:59
    assert total(second_day) == 4  # r05 .. r08
    assert total(requests(db, start=DAY1, end=datetime(2024, 3, 2, 0, 0, 1))) == 5


def test_a_window_ending_on_a_row_leaves_that_row_out(db):
    # r09 is at 2024-03-03 06:00:00 sharp.
    end = datetime(2024, 3, 3, 6, 0)
    assert total(requests(db, start=DAY3, end=end)) == 0
    assert total(requests(db, start=DAY3, end=datetime(2024, 3, 3, 6, 1))) == 1


def test_a_window_across_a_partition_boundary_reads_both_days(db):
    frame = requests(db, start=datetime(2024, 3, 1, 23), end=datetime(2024, 3, 2, 1), bucket=HOUR)
    assert frame["bucket"].tolist() == [datetime(2024, 3, 1, 23), datetime(2024, 3, 2, 0)]
    assert frame["requests"].tolist() == [1, 1]  # r04 and r05


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2024, 3, 2, 8), datetime(2024, 3, 2, 9), 2),  # r06, r07: inside one partition
        (datetime(2024, 3, 2, 12), datetime(2024, 3, 3, 6, 5), 2),  # r08, r09
        (datetime(2024, 2, 1), DAY1, 0),  # before the first partition
        (DAY4, datetime(2024, 3, 10), 0),  # after the last
        (datetime(2024, 1, 1), datetime(2024, 6, 1), 11),
    ],
)
def test_partition_pruning_keeps_every_row_of_the_window(db, start, end, expected):
    frame = predictions()
    in_window = frame[(frame["ts"] >= start) & (frame["ts"] < end)]
    assert len(in_window) == expected
    assert total(requests(db, start=start, end=end, bucket=DAY)) == expected


def test_an_unpartitioned_predictions_file_gives_the_same_results(db, tmp_path):
    # The view derives dt from ts when the files carry no dt= folders (docs/data-contract.md).
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    write_single(single_dir, "predictions", predictions())
    single = Database(Config(data_dir=single_dir, cache_type="null", cache_dir=tmp_path / "cache2", workers=1))
    for start, end in ((DAY1, DAY4), (DAY2, DAY3), (datetime(2024, 3, 1, 23), datetime(2024, 3, 2, 9))):
        assert requests(single, start=start, end=end).equals(requests(db, start=start, end=end))


def test_volume_counts_predictions_per_day_and_label(db):
    frame = db.run("overview_volume", **ALL, bucket=DAY, symbol=[], model_version=None)
    expected = {
        DAY1: {"negative": 1, "neutral": 1, "positive": 2},  # r02 | r03 | r01 r04
        DAY2: {"negative": 1, "neutral": 1, "positive": 2},  # r07 | r05 | r06 r08
        DAY3: {"negative": 1, "neutral": 1, "positive": 1},  # r11 | r09 | r10
    }
    assert_rows(
        frame,
        [
            {"bucket": day, "label": label, "predictions": n}
            for day, labels in expected.items()
            for label, n in labels.items()
        ],
    )


def test_volume_in_hourly_buckets_of_one_symbol(db):
    frame = db.run("overview_volume", start=DAY1, end=DAY2, bucket=HOUR, symbol=["AAPL"], model_version=None)
    assert_rows(
        frame,
        [
            {"bucket": datetime(2024, 3, 1, 9), "label": "positive", "predictions": 1},
            {"bucket": datetime(2024, 3, 1, 10), "label": "neutral", "predictions": 1},
        ],
    )
