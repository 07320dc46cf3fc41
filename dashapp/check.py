"""Validate a data directory against the contract by reading parquet footers only (`dashapp check`).

Footers hold the schema and row counts, so checking ten million rows takes milliseconds. File
discovery follows sources.scan_table: a folder wins over a single file, and dot- and underscore-names
(files being published, _SUCCESS markers) are skipped. The data folder may be an object store URL
(storage.py, objectstore.py): the same checks run on its listing and footers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from .contract import TABLES, Table
from .sources import hive_keys, scan_table, schema_problems
from .storage import Storage, StorageUnreachable, first_line, open_storage


@dataclass(frozen=True)
class TableReport:
    """The verdict on one contract table."""

    table: str
    status: str  # "ok", "missing", "invalid" or "absent" (missing, and the contract allows that)
    files: int
    rows: int
    problems: tuple[str, ...] = ()


STATUSES = ("ok", "missing", "invalid", "absent")
PASSING = ("ok", "absent")


def check_data_dir(data_dir: Path | str) -> list[TableReport]:
    """Check every contract table under `data_dir` (a folder or an object store URL), in contract order.

    Raises StorageUnreachable when an object store does not answer: then no table can be judged.
    """
    storage = open_storage(data_dir)
    if storage.state() == "unreachable":
        raise StorageUnreachable(storage.unavailable_reason())
    return [check_table(storage, table) for table in TABLES.values()]


def check_table(storage: Storage, table: Table) -> TableReport:
    """Check one table's files: readable footers, required columns present, types that fit their kinds."""
    folder, single = f"{table.name}/", f"{table.name}.parquet"
    source = scan_table(storage, table)  # the files the app finds, those it skips included
    found = [file[0] for file in source.files] if source else []
    found += [storage.path_of(path) for path, _ in source.skipped if not path.endswith("/")] if source else []
    paths = sorted(found, key=lambda path: path.split("/"))
    if not paths:
        where = f"{folder} holds no .parquet files" if storage.has_folder(table) else "not found"
        expected = f"expected {folder} or {single} with columns {table.expected_columns_text()}"
        if table.may_be_absent:
            optional = f"{where}; optional: its panels and alert rules stay empty"
            return TableReport(table.name, "absent", 0, 0, (optional,))
        return TableReport(table.name, "missing", 0, 0, (f"{where}; {expected}",))
    problems = Problems(storage)
    if storage.has_folder(table) and storage.has_file(table):
        problems.add(f"both {folder} and {single} exist; {single} is ignored")
    for path, reason in source.skipped if source else ():
        if path.endswith("/"):  # a folder that cannot be listed
            problems.add(f"{path} {reason}")
    rows = 0
    types: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        try:
            metadata = storage.read_metadata(path)
            schema = metadata.schema.to_arrow_schema()
        except (OSError, pa.ArrowException) as error:
            problems.add(f"not a readable parquet file ({first_line(error)})", path)
            continue
        rows += metadata.num_rows
        for problem in schema_problems(table, schema, hive_keys(storage.relative(path))):
            problems.add(problem, path)
        for column in table.required:
            if column.name in schema.names:
                types[column.name][str(schema.field(column.name).type)].append(path)
    for name, by_type in types.items():
        if len(by_type) > 1:
            ranked = sorted(by_type.items(), key=lambda item: -len(item[1]))  # the majority type first
            variants = "; ".join(f"{kind} in {problems.files_text(files)}" for kind, files in ranked)
            problems.add(f"files disagree on the type of {name}: {variants}")
    status = "invalid" if problems else "ok"
    return TableReport(table.name, status, len(paths), rows, problems.lines())


class Problems:
    """Collect problem texts, grouping the files that share one, so 30 bad partitions make one line."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self._files: dict[str, list[str]] = {}

    def add(self, text: str, path: str | None = None) -> None:
        files = self._files.setdefault(text, [])
        if path is not None:
            files.append(path)

    def __bool__(self) -> bool:
        return bool(self._files)

    def files_text(self, files: list[str]) -> str:
        """Name one file, or count several and name the first, relative to the data folder."""
        first = self.storage.relative(files[0])
        return first if len(files) == 1 else f"{len(files)} files (first {first})"

    def lines(self) -> tuple[str, ...]:
        return tuple(f"{self.files_text(files)}: {text}" if files else text for text, files in self._files.items())


def format_report(reports: list[TableReport]) -> str:
    """Render one line per table, its problems indented beneath, and a summary line."""
    width = max(len(r.table) for r in reports)
    lines = []
    for report in reports:
        files = f"{report.files} file{'' if report.files == 1 else 's'}"
        lines.append(f"{report.table:<{width}}  {report.status:<7}  {files:>9}  {report.rows:>13,} rows")
        lines += [f"    - {problem}" for problem in report.problems]
    counts = {status: [r.table for r in reports if r.status == status] for status in STATUSES}
    summary = f"{len(counts['ok'])} of {len(reports)} tables ok"
    for status in ("missing", "invalid", "absent"):
        if counts[status]:
            summary += f"; {status}: {', '.join(counts[status])}"
    return "\n".join([*lines, summary])
