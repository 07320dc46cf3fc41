"""Day slices: compute a windowed query one UTC day at a time, so past days are computed once.

The idea of the Cortex/Thanos query frontend ("split by day, cache per day"), over parquet.
A 30-day view is 28 whole past days, whose dt= partitions do not change, plus two edges; once
the days are cached, a moved window or a new file in today's partition costs the edges and
today, not 30 days. A query opts in with `-- split: <column>`: every row it returns belongs to
the UTC day of that column, so the window's answer is the concatenation of the days' answers.

A table named in `-- later:` holds rows that arrive after the day they belong to (outcomes,
joined to predictions on request_id): a day's rows may sit in any later dt partition. Such a
query is split both ways, into (day, later partition) pairs, so that new outcomes cost one join
against the new partition, not a join against the whole window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta

import pandas as pd

DAY = timedelta(days=1)
LATEST = date(9999, 12, 31)
# The column a `-- later:` query returns: the later table's dt partition of the row.
LATER_DAY = "later_day"

# (path, size, version): the version is the mtime in ns on disk, the ETag and last-modified time on an object store.
FileEntry = tuple[str, int, int | str]


def fingerprint(files: Iterable[FileEntry]) -> str:
    """Identify a set of files by path, size and version: a new or rewritten file changes it."""
    return hashlib.sha1(json.dumps(sorted(files)).encode()).hexdigest()[:16]


def day_slices(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Cut [start, end) at every UTC midnight inside it."""
    cuts = [start]
    midnight = datetime.combine(start.date(), time()) + DAY
    while midnight < end:
        cuts.append(midnight)
        midnight += DAY
    cuts.append(end)
    return list(zip(cuts, cuts[1:], strict=False))


def last_day(end: datetime) -> date:
    """The last UTC day that [.., end) touches: a window ending at midnight stops the day before."""
    return (end - timedelta(microseconds=1)).date()


def files_for_days(groups: dict[date | None, list[FileEntry]], first: date, last: date) -> list[FileEntry]:
    """The files a query over days [first, last] may read: their partitions and any file outside dt= folders."""
    return [f for day, files in groups.items() if day is None or first <= day <= last for f in files]


def divides_days(bucket_seconds: int | None) -> bool:
    """Whether time buckets of this size never straddle a midnight (buckets start at midnight)."""
    return bucket_seconds is None or (0 < bucket_seconds <= 86400 and 86400 % bucket_seconds == 0)


def runs(flags: list[bool]) -> Iterator[tuple[int, int]]:
    """Yield [i, j) index ranges of consecutive True flags."""
    i = 0
    while i < len(flags):
        if flags[i]:
            j = i
            while j < len(flags) and flags[j]:
                j += 1
            yield i, j
            i = j
        else:
            i += 1


def split_rows(frame: pd.DataFrame, column: str, later_column: str | None, later_unpartitioned: bool) -> dict:
    """Cut a result into {(day, later partition): rows}, keeping the query's row order.

    Without a later table, or when it has no dt= partitions, the later partition is None.
    """
    days = pd.to_datetime(frame[column]).dt.date
    if later_column is None or later_unpartitioned:
        return {(day, None): rows.reset_index(drop=True) for day, rows in frame.groupby(days, sort=False)}
    later = frame[later_column].map(_as_date)
    return {key: rows.reset_index(drop=True) for key, rows in frame.groupby([days, later], sort=False)}


def _as_date(value) -> date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()
