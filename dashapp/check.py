"""Validate a data directory against the contract by reading parquet footers only (`dashapp check`).

Footers hold the schema and row counts, so checking ten million rows takes milliseconds. File
discovery follows db.scan_table: a folder wins over a single file, and dot- and underscore-names
(files being published, _SUCCESS markers) are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .contract import TABLES, Table
from .sources import first_line, hive_keys, scan_table, schema_problems


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


def check_data_dir(data_dir: Path) -> list[TableReport]:
    """Check every contract table under `data_dir`, in contract order."""
    return [check_table(Path(data_dir), table) for table in TABLES.values()]


def check_table(data_dir: Path, table: Table) -> TableReport:
    """Check one table's files: readable footers, required columns present, types that fit their kinds."""
    folder, single = table.locations(data_dir)
    source = scan_table(data_dir, table)  # the files the app finds, those it skips included
    found = [Path(file[0]) for file in source.files] if source else []
    found += [data_dir / path for path, _ in source.skipped if not path.endswith("/")] if source else []
    paths = sorted(found)
    if not paths:
        where = f"{folder.name}/ holds no .parquet files" if folder.is_dir() else "not found"
        expected = f"expected {folder.name}/ or {single.name} with columns {table.expected_columns_text()}"
        if table.may_be_absent:
            optional = f"{where}; optional: its panels and alert rules stay empty"
            return TableReport(table.name, "absent", 0, 0, (optional,))
        return TableReport(table.name, "missing", 0, 0, (f"{where}; {expected}",))
    problems = Problems(data_dir)
    if folder.is_dir() and single.is_file():
        problems.add(f"both {folder.name}/ and {single.name} exist; {single.name} is ignored")
    for path, reason in source.skipped if source else ():
        if path.endswith("/"):  # a folder that cannot be listed
            problems.add(f"{path} {reason}")
    rows = 0
    types: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        try:
            metadata = pq.read_metadata(path)
            schema = metadata.schema.to_arrow_schema()
        except (OSError, pa.ArrowException) as error:
            problems.add(f"not a readable parquet file ({first_line(error)})", path)
            continue
        rows += metadata.num_rows
        for problem in schema_problems(table, schema, hive_keys(data_dir, path)):
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

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._files: dict[str, list[Path]] = {}

    def add(self, text: str, path: Path | None = None) -> None:
        files = self._files.setdefault(text, [])
        if path is not None:
            files.append(path)

    def __bool__(self) -> bool:
        return bool(self._files)

    def files_text(self, files: list[Path]) -> str:
        """Name one file, or count several and name the first, relative to the data folder."""
        first = files[0].relative_to(self.data_dir).as_posix()
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
