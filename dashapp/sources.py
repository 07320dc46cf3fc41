"""Which parquet files each contract table reads right now, and which it skips, loudly.

One unreadable parquet file fails DuckDB's whole multi-file scan, so a bad file would take its
table down. The policy instead: every file's footer is probed once per version (path, size and
mtime, or an object's ETag and last-modified time: objectstore.py; 0.4 ms a local file) and checked
against the contract. A file that is not parquet, is truncated, or lacks a required column or
has one of the wrong kind is left out of the table's view, named in the log once, and named on
every panel, API answer and /readyz that reads the table, so no row goes missing unseen. A
file that passes its footer but fails while DuckDB reads it is marked the same way by the
query layer (`mark_broken`) and the query retried without it.
Rewriting a file changes its version, so a fixed file is probed again and comes back by itself.

Files being published are invisible: names starting with . or _ (write to a temporary name,
then rename) and anything not ending in .parquet.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .contract import Column, Table
from .dayslices import FileEntry, fingerprint
from .storage import Storage, StorageUnreachable, first_line

log = logging.getLogger(__name__)

_DT_FOLDER = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")
# file version -> (why it is skipped, "" when it is fine; the required columns it has)
_PROBED: dict[FileEntry, tuple[str, frozenset[str]]] = {}
_PROBED_LOCK = threading.Lock()
_PROBED_MAX = 100_000  # forget everything beyond this many file versions (old versions pile up)


@dataclass(frozen=True)
class TableSource:
    """The parquet files behind one contract table, as found in the data folder right now."""

    table: Table
    files: tuple[FileEntry, ...]  # sorted; the files the table's view reads
    hive: bool
    # What is left out and why, relative to the data folder: bad files, and folders that cannot be listed.
    skipped: tuple[tuple[str, str], ...] = field(default=())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.files)

    def partitions(self) -> dict[date | None, list[FileEntry]]:
        """The files by dt=YYYY-MM-DD day; None holds the files outside dt= folders (all of them, unpartitioned)."""
        groups: dict[date | None, list[FileEntry]] = {}
        for entry in self.files:
            match = _DT_FOLDER.search(entry[0])
            groups.setdefault(date.fromisoformat(match.group(1)) if match else None, []).append(entry)
        return groups

    def skipped_text(self) -> str:
        """One line for a panel: how many files are left out, and the first of them with its reason."""
        if not self.skipped:
            return ""
        path, reason = self.skipped[0]
        total = len(self.files) + len(self.skipped)
        return f"partial data: {self.table.name} skips {len(self.skipped)} of {total} files ({path}: {reason})"


def scan_table(storage: Storage, table: Table) -> TableSource | None:
    """Find a table's parquet files (<root>/<table>/**.parquet or <root>/<table>.parquet) and probe them.

    None when neither exists, or when the object store stops answering during the scan (its state says so);
    a source with no files (but reasons in `skipped`) when nothing is readable.
    """
    found = storage.list_table(table)
    if found is None:
        return None
    try:
        probed = [(entry, *_probe(storage, table, entry)) for entry in found.files]
    except StorageUnreachable:
        return None
    # A required column that some files have and others lack would read as NULL in those: skip them. One
    # that no file has is the table's problem, not a file's: the queries that need it say so.
    wanted = frozenset().union(*(columns for _, problem, columns in probed if not problem))
    files, skipped = [], list(found.unlisted)
    for entry, problem, columns in probed:
        if not problem and wanted - columns:
            problem = f"lacks {', '.join(sorted(wanted - columns))}, which the other files have"
        if problem:
            skipped.append((storage.relative(entry[0]), problem))
        else:
            files.append(entry)
    hive = any("dt=" in os.path.basename(os.path.dirname(f[0])) for f in files)
    return TableSource(table, tuple(files), hive, tuple(skipped))


def publish(table: pa.Table, path: Path) -> int:
    """Write a table as parquet under a hidden temporary name, then rename it into place; return its rows.

    How the demo and `import-mlflow` publish, and how a pipeline should: readers never see half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, path)
    return table.num_rows


def mark_broken(storage: Storage, entry: FileEntry, reason: str) -> None:
    """Remember that DuckDB failed reading this file version: scans skip it from now on."""
    with _PROBED_LOCK:
        _PROBED[entry] = (reason, frozenset())
    log.warning("skipping %s: %s", storage.relative(entry[0]), reason)


def _probe(storage: Storage, table: Table, entry: FileEntry) -> tuple[str, frozenset[str]]:
    """Why a file version cannot be read as part of `table` ("" if it can) and the required columns it has.

    From its footer, once per version.
    """
    with _PROBED_LOCK:
        known = _PROBED.get(entry)
    if known is not None:
        return known
    relative = storage.relative(entry[0])
    columns: frozenset[str] = frozenset()
    try:
        schema = storage.read_schema(entry[0])
        keys = hive_keys(relative)
        problem = "; ".join(schema_problems(table, schema, keys, required=False))
        columns = frozenset(c for c in table.required_names if c in schema.names or c in keys)
    except (OSError, pa.ArrowException) as error:
        problem = f"not a readable parquet file ({first_line(error)})"
    if problem:
        log.warning("skipping %s: %s", relative, problem)
    with _PROBED_LOCK:
        if len(_PROBED) >= _PROBED_MAX:
            _PROBED.clear()
        _PROBED[entry] = (problem, columns)
    return problem, columns


def schema_problems(table: Table, schema: pa.Schema, hive_keys: set[str], required: bool = True) -> list[str]:
    """Name the required columns a file lacks (if `required`) and the contract columns whose type does not fit."""
    problems = []
    missing = [c.name for c in table.required if c.name not in schema.names and c.name not in hive_keys]
    if missing and required:
        problems.append(f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for column in table.required + table.optional:
        if column.name in schema.names and not fits(column, schema.field(column.name).type):
            problems.append(f"column {column.name} is {schema.field(column.name).type}, expected {column.kind}")
    for key in sorted(hive_keys & set(schema.names)):
        problems.append(f"column {key} is also a partition folder name ({key}=...)")
    return problems


def kinds_of(arrow_type: pa.DataType) -> set[str]:
    """Return the contract kinds an arrow type satisfies."""
    if pa.types.is_dictionary(arrow_type):
        return kinds_of(arrow_type.value_type)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return {"string"}
    if pa.types.is_integer(arrow_type):
        return {"integer", "number"}
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return {"number"}
    if pa.types.is_timestamp(arrow_type):
        return {"timestamp", "date"}
    if pa.types.is_date(arrow_type):
        return {"date"}
    if pa.types.is_boolean(arrow_type):
        return {"boolean"}
    return set()


def fits(column: Column, arrow_type: pa.DataType) -> bool:
    """Tell whether an arrow type satisfies a contract column's kind."""
    return column.kind in kinds_of(arrow_type)


def hive_keys(relative: str) -> set[str]:
    """Column names that folder names like dt=2026-11-20 supply, from a path relative to the data folder."""
    return {part.split("=", 1)[0] for part in relative.split("/")[:-1] if "=" in part}
