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

from .contract import TABLES, Column, Table
from .db import scan_table


@dataclass(frozen=True)
class TableReport:
    """The verdict on one contract table."""

    table: str
    status: str  # "ok", "missing" or "invalid"
    files: int
    rows: int
    problems: tuple[str, ...] = ()


def check_data_dir(data_dir: Path) -> list[TableReport]:
    """Check every contract table under `data_dir`, in contract order."""
    return [check_table(Path(data_dir), table) for table in TABLES.values()]


def check_table(data_dir: Path, table: Table) -> TableReport:
    """Check one table's files: readable footers, required columns present, types that fit their kinds."""
    folder, single = table.locations(data_dir)
    source = scan_table(data_dir, table)  # the same files the app's views read
    paths = [Path(file[0]) for file in source.files] if source else []
    if not paths:
        where = f"{folder.name}/ holds no .parquet files" if folder.is_dir() else "not found"
        expected = f"expected {folder.name}/ or {single.name} with columns {table.expected_columns_text()}"
        return TableReport(table.name, "missing", 0, 0, (f"{where}; {expected}",))
    problems = Problems(data_dir)
    if folder.is_dir() and single.is_file():
        problems.add(f"both {folder.name}/ and {single.name} exist; {single.name} is ignored")
    rows = 0
    types: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        try:
            metadata = pq.read_metadata(path)
            schema = metadata.schema.to_arrow_schema()
        except (OSError, pa.ArrowException) as error:
            problems.add(f"not a readable parquet file ({_first_line(error)})", path)
            continue
        rows += metadata.num_rows
        for problem in schema_problems(table, schema, _hive_keys(data_dir, path)):
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


def schema_problems(table: Table, schema: pa.Schema, hive_keys: set[str]) -> list[str]:
    """Name the required columns a file lacks and the contract columns whose type does not fit."""
    problems = []
    missing = [c.name for c in table.required if c.name not in schema.names and c.name not in hive_keys]
    if missing:
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


def _hive_keys(data_dir: Path, path: Path) -> set[str]:
    """Column names that folder names like dt=2026-11-20 supply."""
    return {part.split("=", 1)[0] for part in path.relative_to(data_dir).parts[:-1] if "=" in part}


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
    counts = {status: [r.table for r in reports if r.status == status] for status in ("ok", "missing", "invalid")}
    summary = f"{len(counts['ok'])} of {len(reports)} tables ok"
    for status in ("missing", "invalid"):
        if counts[status]:
            summary += f"; {status}: {', '.join(counts[status])}"
    return "\n".join([*lines, summary])
