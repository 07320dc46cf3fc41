"""The query layer: SQL files loaded by name, run on a sandboxed per-process DuckDB connection.

This is the only module that touches SQL. Values are always bound parameters. SQL built in Python
is limited to the view DDL over server-side file lists (so a view reads exactly the files that the
cache key's fingerprint describes) and to column names a query declares as identifiers, which are
checked against the table's real columns before they are quoted in.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from . import deadline
from .breaker import cache_skipped
from .cache import shared_flight
from .config import Config, results_fingerprint
from .contract import TABLES
from .dayslices import (
    LATER_DAY,
    LATEST,
    FileEntry,
    day_slices,
    divides_days,
    files_for_days,
    fingerprint,
    last_day,
    runs,
    split_rows,
)
from .errors import DataUnavailable, QueryRefused
from .querycount import count_query
from .resources import shipped_folder
from .singleflight import WAIT_SECONDS, single_flight
from .sources import TableSource, mark_broken, scan_table
from .storage import open_storage

log = logging.getLogger(__name__)

QUERIES_DIR = shipped_folder("queries")
_PARAM = re.compile(r"(?<![:$\w])\$([a-z_][a-z0-9_]*)")
_HEADER = re.compile(r"^--\s*(params|returns|tables|split|later|identifiers):\s*(.*)$")
# {name} or {name: fragment}; see Query.render().
_IDENTIFIER = re.compile(r"\{([a-z_][a-z0-9_]*)(?::([^{}]*))?\}")
_WORD = re.compile(r"[a-z_][a-z0-9_]*")
LATER_PARAMS = frozenset({"later_from", "later_to"})
READ_ERRORS = (duckdb.IOException, duckdb.InvalidInputException, duckdb.BinderException)
# What DuckDB's message says when its spill folder fails (the OS's words), to repeat on the panel.
SPILL_FAILURES = ("No space left on device", "Read-only file system", "Permission denied", "No such file or directory")
MAX_BROKEN_RETRIES = 3  # files skipped per query run before the error is shown as it is
# The code that turns a SQL file's answer into cached frames, part of every query's cache key (query_version):
# db.py (views, identifiers, the per-day entries), dayslices.py (the cut into days), sources.py, storage.py and
# objectstore.py (which files a view reads) and contract.py (the columns a view adds). Their source is hashed, not a
# constant bumped by hand: a forgotten bump would serve frames of the old logic as the new one's, and these files
# change far less often than the charts and pages, whose deploys then keep every query result.
QUERY_LAYER = ("db.py", "dayslices.py", "sources.py", "storage.py", "objectstore.py", "contract.py")
# Libraries whose version is part of a key: DuckDB computes a frame and pandas, numpy and pyarrow pickle it,
# so a host with other versions neither reads nor writes the same entries; memoized results add the
# statistics (scipy), the figures (plotly) and the tearsheets (quantstats).
FRAME_LIBRARIES = ("duckdb", "pandas", "numpy", "pyarrow")
PYTHON_LIBRARIES = ("scipy", "plotly", "quantstats")
# The current request's scans, table -> TableSource (None outside a request): see Database.scan().
_SNAPSHOT: ContextVar[dict | None] = ContextVar("dashapp_scan_snapshot", default=None)


@dataclass(frozen=True)
class Query:
    """One queries/<name>.sql file: its text, the $params it binds and the tables it reads."""

    name: str
    text: str
    params: frozenset[str]
    tables: tuple[str, ...]
    description: str
    split: str | None = None  # `-- split: <column>`: computed and cached per UTC day (dayslices.py)
    later: str | None = None  # `-- later: <table>`: that table's rows arrive in later dt partitions
    # `-- identifiers: <name>`: {name} in the SQL stands for a list of column names (see render()).
    identifiers: frozenset[str] = frozenset()

    @property
    def caller_params(self) -> frozenset[str]:
        """The params a caller supplies; a `later` query's partition range is the splitter's to bind."""
        return (self.params - LATER_PARAMS if self.later else self.params) | self.identifiers

    def render(self, params: dict) -> tuple[str, dict]:
        """The SQL with its identifiers spelt out, and the params left to bind.

        `{name}` becomes the quoted column names, comma-separated; `{name: fragment}` becomes the
        fragment once per column, comma-separated, with @ as the quoted column and # as its 1-based
        position (to index a bound list of per-column values). Only for names Database.run() has
        checked against the table's real columns: GROUPING SETS takes no COLUMNS(), and an
        aggregate with per-column arguments cannot be written with COLUMNS() either.
        """
        if not self.identifiers:
            return self.text, params

        def spell(match: re.Match) -> str:
            names, fragment = params[match.group(1)], match.group(2)
            if fragment is None:
                return ", ".join(map(_quote_identifier, names))
            fragment = fragment.strip()
            return ", ".join(
                fragment.replace("#", str(i)).replace("@", _quote_identifier(c)) for i, c in enumerate(names, 1)
            )

        return _IDENTIFIER.sub(spell, self.text), {k: v for k, v in params.items() if k not in self.identifiers}

    def check_params(self, supplied: dict) -> None:
        """Fail fast when a call lacks a parameter the SQL binds, or adds one it does not."""
        missing = self.caller_params - supplied.keys()
        extra = supplied.keys() - self.caller_params
        if missing or extra:
            parts = [f"missing {sorted(missing)}" if missing else "", f"unexpected {sorted(extra)}" if extra else ""]
            raise ValueError(f"query {self.name}: " + ", ".join(p for p in parts if p))


@cache
def load_query(name: str, folder: Path = QUERIES_DIR) -> Query:
    """Read and parse queries/<name>.sql once per process."""
    path = folder / f"{name}.sql"
    if not re.fullmatch(r"[a-z0-9_]+", name) or not path.is_file():
        raise KeyError(f"no query named {name!r} in {folder.name}/")
    text = path.read_text()
    headers = {m.group(1): m.group(2) for m in map(_HEADER.match, text.splitlines()) if m}
    tables = tuple(t.strip() for t in headers.get("tables", "").split(",") if t.strip())
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ValueError(f"query {name}: header '-- tables:' names unknown tables {unknown}")
    body = "\n".join(line.split("--")[0] for line in text.splitlines())
    # "-- identifiers: a, b (what they are)": the names before any parenthesis.
    identifiers = frozenset(_WORD.findall(headers.get("identifiers", "").split("(")[0]))
    if {m.group(1) for m in _IDENTIFIER.finditer(body)} != identifiers:
        raise ValueError(f"query {name}: header '-- identifiers:' must list each {{name}} in the SQL, and only those")
    first_line = text.splitlines()[0].lstrip("- ").strip()
    query = Query(
        name,
        text,
        frozenset(_PARAM.findall(body)),
        tables,
        first_line,
        split=headers.get("split", "").strip() or None,
        later=headers.get("later", "").strip() or None,
        identifiers=identifiers,
    )
    if query.split and not {"start", "end"} <= query.params:
        raise ValueError(f"query {name}: '-- split:' needs $start and $end")
    if query.later and not (query.split and query.later in tables and LATER_PARAMS <= query.params):
        raise ValueError(f"query {name}: '-- later:' needs '-- split:', a table it reads and $later_from, $later_to")
    return query


def query_names(folder: Path = QUERIES_DIR) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.sql"))


_MACRO = re.compile(r"CREATE OR REPLACE MACRO (\w+)")


def view_macros(folder: Path = QUERIES_DIR) -> list[Query]:
    """The view_*.sql files: table macros (re)created whenever a table they read is rebuilt.

    DuckDB binds a macro's body when it is created, so one that calls another comes after it.
    """
    pending = [load_query(p.stem, folder) for p in sorted(folder.glob("view_*.sql"))]
    defines = {q.name: set(_MACRO.findall(q.text)) for q in pending}
    ordered: list[Query] = []
    while pending:
        made = set().union(*(defines[q.name] for q in ordered)) if ordered else set()
        others = set().union(*(defines[q.name] for q in pending))
        ready = [q for q in pending if not any(re.search(rf"\b{m}\(", q.text) for m in others - made - defines[q.name])]
        if not ready:
            raise ValueError(f"view macros call each other in a cycle: {[q.name for q in pending]}")
        ordered += ready
        pending = [q for q in pending if q not in ready]
    return ordered


def query_version(query: Query) -> str:
    """What a query's cached answer depends on besides its parameters and files: its SQL and the query layer."""
    return _digest([query.text.encode(), QUERY_LAYER_VERSION.encode()])


def _query_layer_version() -> str:
    """The QUERY_LAYER files, the view macros the queries call and the FRAME_LIBRARIES' versions."""
    package = Path(__file__).resolve().parent
    sources = [(package / name).read_bytes() for name in QUERY_LAYER]
    return _digest([*sources, *(q.text.encode() for q in view_macros()), *_library_versions(FRAME_LIBRARIES)])


def _code_version() -> str:
    """Every Python file of the package, every SQL file and the libraries' versions, for memoized results:
    nearly any of it can change a number computed in Python, and a wrong number costs more than a cold entry."""
    package = Path(__file__).resolve().parent
    # Named alike in a checkout and in the wheel (which carries queries/ inside the package): the same code is
    # the same version wherever it is installed.
    named = [(f"dashapp/{p.relative_to(package)}", p) for p in package.rglob("*.py")]
    named += [(f"queries/{p.name}", p) for p in QUERIES_DIR.glob("*.sql")]
    files = [name.encode() + b"\0" + path.read_bytes() for name, path in sorted(named)]
    return _digest([*files, *_library_versions(FRAME_LIBRARIES + PYTHON_LIBRARIES)])


def _library_versions(names: tuple[str, ...]) -> list[bytes]:
    found = []
    for name in names:
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} absent".encode())
    return found


def _digest(parts) -> str:
    """A hash of byte strings, each length-prefixed so that no two lists of parts run together the same."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:16]


# Read once, at import, from the code this process runs: read later, a deploy that replaced the files under a
# running worker would have that worker file its old code's results under the new code's keys.
QUERY_LAYER_VERSION = _query_layer_version()
CODE_VERSION = _code_version()


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_SQL_TYPES = {
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
    "number": "DOUBLE",
    "integer": "BIGINT",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}


def reader_sql(source: TableSource) -> str:
    """Build the read_parquet call over a table's files (server-side paths only, never user input)."""
    file_list = "[" + ", ".join(_sql_literal(f[0]) for f in source.files) + "]"
    return f"read_parquet({file_list}, hive_partitioning = {str(source.hive).lower()}, union_by_name = true)"


def view_sql(source: TableSource, present_columns: set[str]) -> str:
    """Build the view DDL: the files' columns, plus NULL for absent optional contract columns."""
    table = source.table
    columns = ["*"]
    columns += [
        f'CAST(NULL AS {_SQL_TYPES[c.kind]}) AS "{c.name}"' for c in table.optional if c.name not in present_columns
    ]
    if table.time_column and "dt" not in present_columns:
        # Time filters prune on dt; give tables that are not hive-partitioned the same column.
        columns.append(f'CAST("{table.time_column}" AS DATE) AS dt')
    return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {", ".join(columns)} FROM {reader_sql(source)}'


def sandbox_settings(config: Config) -> list[tuple[str, object]]:
    """The DuckDB settings from docs/reliability.md, in the order they must be applied.

    The allowed data directory is the folder, or the object store's bucket/prefix URL (whose filesystem
    also refuses anything outside it: guardfs.py).
    """
    data_dir = open_storage(config.data_dir).sandbox_directory()
    temp_dir = str(config.duckdb_temp_dir.resolve()) + "/"
    return [
        ("allowed_directories", [data_dir, temp_dir]),
        ("temp_directory", temp_dir),
        ("memory_limit", config.duckdb_memory_limit),
        ("threads", config.duckdb_threads),
        ("max_temp_directory_size", "4GiB"),
        ("TimeZone", "UTC"),
        ("autoload_known_extensions", False),
        ("autoinstall_known_extensions", False),
        ("allow_community_extensions", False),
        ("enable_external_access", False),
        ("lock_configuration", True),
    ]


SANDBOX_CHECKS = {
    "enable_external_access": "false",
    "lock_configuration": "true",
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
    "allow_community_extensions": "false",
}


def sandbox_problems(found: dict) -> dict:
    """The walls in SANDBOX_CHECKS that settings read back from DuckDB show down: {name: value found}."""
    return {k: found.get(k) for k, v in SANDBOX_CHECKS.items() if str(found.get(k)).lower() != v}


class Database:
    """Runs named queries over the contract tables in DATA_DIR, memoized in `cache` when given."""

    def __init__(self, config: Config, cache=None):
        self.config = config
        self.cache = cache
        self.storage = open_storage(config.data_dir)
        self._lock = threading.Lock()
        self._heavy = threading.BoundedSemaphore(config.heavy_queries)
        self._pid: int | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._views: dict[str, str] = {}  # table -> fingerprint the view was built from
        self._columns: dict[str, tuple[str, dict[str, str]]] = {}  # table -> (fingerprint, its columns)

    # -- connection -------------------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """Open the process's connection lazily, so a gunicorn fork never shares its parent's."""
        if self._con is None or self._pid != os.getpid():
            with self._lock:
                if self._con is None or self._pid != os.getpid():
                    self._con = self._open()
                    self._pid = os.getpid()
                    self._views = {}
        return self._con

    def _open(self) -> duckdb.DuckDBPyConnection:
        # A spill folder that cannot be made or written fails only the views that need to spill, with a message
        # (_spill_refusal), not the worker. DuckDB names its spill files by process, so the workers share it.
        self._make_spill_folder()
        con = duckdb.connect(":memory:")
        self.storage.attach(con)  # an object store's filesystem, registered before the configuration is locked
        for name, value in sandbox_settings(self.config):
            con.execute(f"SET {name} = {_setting_literal(value)}")
        # Self-test: refuse to serve on a connection whose walls did not go up (docs/reliability.md).
        found = dict(con.execute(load_query("meta_settings").text, {"names": list(SANDBOX_CHECKS)}).fetchall())
        wrong = sandbox_problems(found)
        if wrong:
            con.close()
            raise RuntimeError(f"DuckDB sandbox settings did not apply: {wrong}")
        return con

    def _make_spill_folder(self) -> None:
        try:
            self.config.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("DuckDB's spill folder %s cannot be made: %s", self.config.duckdb_temp_dir, exc)

    def settings(self) -> dict[str, str]:
        """Read the sandbox settings back from DuckDB, as the start-up self-test does."""
        names = [n for n, _ in sandbox_settings(self.config)]
        rows = self._connection().execute(load_query("meta_settings").text, {"names": names})
        return dict(rows.fetchall())

    # -- tables -----------------------------------------------------------------------------

    def sources(self, tables=None) -> dict[str, TableSource | None]:
        """The tables' readable files (all tables by default); None marks a table missing or with no readable file."""
        return {name: source if source and source.files else None for name, source in self.scan(tables).items()}

    def scan(self, tables=None) -> dict[str, TableSource | None]:
        """Scan DATA_DIR for the given tables (all by default), skipped files included; None: not there at all.

        Within a request (begin_snapshot) each table is scanned once: a panel reads it five or six times
        (cache key, coverage, freshness, notes), and every read then sees the same files.
        """
        snapshot = _SNAPSHOT.get()
        found = {}
        for name in TABLES if tables is None else tables:
            if snapshot is not None and name in snapshot:
                found[name] = snapshot[name]
                continue
            found[name] = scan_table(self.storage, TABLES[name])
            if snapshot is not None:
                snapshot[name] = found[name]
        return found

    @staticmethod
    def begin_snapshot() -> None:
        """Start the current request's view of the data folder (Flask before_request)."""
        _SNAPSHOT.set({})

    @staticmethod
    def end_snapshot() -> None:
        _SNAPSHOT.set(None)

    def skipped_notes(self, tables) -> list[str]:
        """One line per readable table that leaves files out, for the panels and the API (partial data)."""
        return [s.skipped_text() for s in self.scan(tables).values() if s is not None and s.files and s.skipped]

    def prepare(self) -> None:
        """Open this process's connection and build the views of every readable table now, before the first request:
        a worker that starts after a deploy then serves its first visitor as fast as its hundredth."""
        try:
            self._ensure_views({t: s for t, s in self.sources().items() if s is not None})
        except (duckdb.Error, OSError) as exc:  # a broken file: the first query that reads it says so
            log.warning("views not prepared at start: %s", _error_line(exc))

    def _ensure_views(self, sources: dict[str, TableSource]) -> None:
        """(Re)build the views whose files changed since they were built, then their macros."""
        con = self._connection()
        with self._lock:
            rebuilt = set()
            for name, source in sources.items():
                if self._views.get(name) != source.fingerprint:
                    files = [f[0] for f in source.files]
                    relation = con.read_parquet(files, hive_partitioning=source.hive, union_by_name=True)
                    con.execute(view_sql(source, set(relation.columns)))
                    self._views[name] = source.fingerprint
                    rebuilt.add(name)
            for macro in view_macros():
                if rebuilt & set(macro.tables) and all(t in self._views for t in macro.tables):
                    con.execute(macro.text)

    # -- queries ----------------------------------------------------------------------------

    def run(self, name: str, **params) -> pd.DataFrame:
        """Run queries/<name>.sql with bound parameters; raise DataUnavailable for missing tables."""
        query = load_query(name)
        query.check_params(params)
        return self._run_skipping_broken(query, params, query.tables)

    def run_on(self, table: str, name: str, **params) -> pd.DataFrame:
        """Run a query that reads the contract table given as its `$table` (query_table), cached by its files."""
        if table not in TABLES:
            raise ValueError(f"query {name}: {table!r} is not a contract table")
        query = load_query(name)
        params = {**params, "table": table}
        query.check_params(params)
        return self._run_skipping_broken(query, params, (table,))

    def _run_skipping_broken(self, query: Query, params: dict, tables: tuple[str, ...]) -> pd.DataFrame:
        """Run a query; when DuckDB fails on a file whose footer looked fine, skip that file (loudly) and rerun."""
        for _ in range(MAX_BROKEN_RETRIES):
            sources = self._sources_present(tables)
            self._check_identifiers(query, params, tables)
            try:
                return self._run(query, params, sources)
            except BrokenFile as broken:
                mark_broken(self.storage, broken.entry, broken.reason)
                (_SNAPSHOT.get() or {}).pop(broken.table, None)
        return self._run(query, params, self._sources_present(tables))  # enough retries: let the error through

    def _check_identifiers(self, query: Query, params: dict, tables: tuple[str, ...]) -> None:
        """Refuse identifiers that are not a non-empty list of real columns of every table the query reads."""
        for name in sorted(query.identifiers):
            value = params[name]
            if not isinstance(value, list | tuple) or not value or not all(isinstance(c, str) for c in value):
                raise ValueError(f"query {query.name}: {name} must be a non-empty list of column names")
            for table in tables:
                unknown = sorted(set(value) - set(self.columns(table)))
                contract = TABLES[table]
                if set(unknown) & set(contract.required_names):  # the data breaks the contract, not the caller
                    reason = f"lacks required columns {unknown} (run `dashapp check`)"
                    raise DataUnavailable(table, reason, contract.expected_columns_text())
                if unknown:
                    raise ValueError(f"query {query.name}: {name} names columns {table} does not have: {unknown}")

    def data_through(self, table: str) -> datetime | None:
        """Return the newest timestamp in a table (reading only its newest dt partition), None if empty."""
        return self._extent(table, newest=True)

    def data_from(self, table: str) -> datetime | None:
        """Return the oldest timestamp in a table (reading only its oldest dt partition), None if empty."""
        return self._extent(table, newest=False)

    def _extent(self, table: str, newest: bool) -> datetime | None:
        time_column = TABLES[table].time_column
        if time_column is None:
            raise ValueError(f"{table} has no time column")
        sources = self._sources_present((table,))
        days = [day for day in sources[table].partitions() if day is not None]
        since, until = (max(days), None) if newest and days else (None, min(days) if days else None)
        extent = self.run_on(table, "meta_extent", time_column=f"^{time_column}$", since=since, until=until)
        value = extent.iloc[0]["last" if newest else "first"]
        return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()

    def memoize(self, name: str, params: dict, tables: tuple[str, ...], compute):
        """Cache what `compute()` derives from the given tables: keyed by name, params and fingerprints, like a
        query, and by the code and the settings that change results (CODE_VERSION, results_fingerprint).

        For results computed in Python from several queries (drift), so a cached view costs one read.
        """
        sources = {t: s for t, s in self.sources(tables).items() if s is not None}
        version = f"{CODE_VERSION}:{results_fingerprint(self.config)}"
        key = self._cache_key("m", name, version, params, {t: s.fingerprint for t, s in sources.items()})
        return self._cached(key, compute)

    def columns(self, table: str) -> dict[str, str]:
        """The table's columns and DuckDB types as its view exposes them (absent optional columns as NULL)."""
        sources = self._sources_present((table,))
        fingerprint, columns = self._columns.get(table, (None, {}))
        if fingerprint != sources[table].fingerprint:  # kept per process: every drift query checks its columns
            frame = self._run(load_query("meta_columns"), {"table": table}, sources)
            columns = dict(zip(frame["column_name"], frame["data_type"], strict=True))
            self._columns[table] = (sources[table].fingerprint, columns)
        return dict(columns)

    def _sources_present(self, tables: tuple[str, ...]) -> dict[str, TableSource]:
        """Scan the tables a query reads; raise DataUnavailable naming the first one missing or unreadable."""
        sources = self.scan(tables)
        for table, source in sources.items():
            if source is None or not source.files:
                raise DataUnavailable(table, self._missing_reason(table, source), TABLES[table].expected_columns_text())
        return sources

    def _missing_reason(self, table: str, source: TableSource | None) -> str:
        """Say why a table has nothing to read: no data folder or store, no files, or only files that cannot be read."""
        unavailable = self.storage.unavailable_reason()
        if unavailable:
            return unavailable
        if source is not None and source.skipped:
            path, reason = source.skipped[0]
            more = f" and {len(source.skipped) - 1} more" if len(source.skipped) > 1 else ""
            return f"no readable parquet file: {path}: {reason}{more}"
        return f"no parquet files at {table}/ or {table}.parquet in the data folder"

    def _run(self, query: Query, params: dict, sources: dict[str, TableSource]) -> pd.DataFrame:
        key = self._cache_key(
            "q", query.name, query_version(query), params, {t: s.fingerprint for t, s in sources.items()}
        )

        def compute() -> pd.DataFrame:
            # Splitting pays off only when the days are kept: without a cache, one query is cheaper.
            if query.split and self.cache is not None and divides_days(params.get("bucket")):
                return self._run_by_day(query, params, sources)
            return self._execute(query, self._whole_later_range(query, params), sources)

        return self._cached(key, compute, single=True)

    @staticmethod
    def _whole_later_range(query: Query, params: dict) -> dict:
        """Bind a `later` query's partition range to everything from the window's first day on."""
        if not query.later:
            return params
        return {**params, "later_from": params["start"].date(), "later_to": LATEST}

    def _run_by_day(self, query: Query, params: dict, sources: dict[str, TableSource]) -> pd.DataFrame:
        """Answer a `-- split:` query from per-day cache entries, computing only the missing ones.

        Each day's entry maps a later partition (None when the query has no later table) to
        (that partition's fingerprint, the day's rows from it). Consecutive days that miss
        something are computed by one query, then cut back into days.
        """
        own = {t: s.partitions() for t, s in sources.items() if t != query.later}
        later_parts = sources[query.later].partitions() if query.later else {None: []}
        version = query_version(query)
        days = []
        for start, end in day_slices(params["start"], params["end"]):
            files = [f for groups in own.values() for f in files_for_days(groups, start.date(), last_day(end))]
            day_params = {**params, "start": start, "end": end}
            key = self._cache_key("day", query.name, version, day_params, {"": fingerprint(files)})
            wanted = {e: fingerprint(f) for e, f in later_parts.items() if e is None or e >= start.date()}
            days.append(_Day(start, end, key, wanted, self._cache_get(key) or {}))

        for i, j in runs([bool(day.missing) for day in days]):
            run = days[i:j]
            need = set().union(*(day.missing for day in run))
            run_params = {**params, "start": run[0].start, "end": run[-1].end}
            if query.later:
                dated = [e for e in need if e is not None]
                whole = None in need or not dated
                run_params["later_from"] = run[0].start.date() if whole else min(dated)
                run_params["later_to"] = LATEST if whole else max(dated)
            frame = self._execute(query, run_params, sources)
            rows = split_rows(frame, query.split, LATER_DAY if query.later else None, set(later_parts) == {None})
            for day in run:
                for e, fp in day.wanted.items():
                    if e is None or run_params["later_from"] <= e <= run_params["later_to"]:
                        day.stored[e] = (fp, rows.get((day.start.date(), e), frame.iloc[0:0]))
                self._cache_set(day.key, day.stored)

        parts = [day.stored[e][1] for day in days for e in sorted(day.wanted, key=_none_first)]
        if not parts:  # no later partition reaches the window: an empty answer with the right columns
            return self._execute(query, self._whole_later_range(query, params), sources)
        non_empty = [p for p in parts if len(p)]
        return pd.concat(non_empty, ignore_index=True) if non_empty else parts[0]

    def _execute(self, query: Query, params: dict, sources: dict[str, TableSource]) -> pd.DataFrame:
        """Run one query under the request's deadline, in a heavy-query slot unless it only reads metadata."""
        cursor = None
        try:
            self._ensure_views(sources)
            with self._slot(query):
                cursor = self._connection().cursor()
                count_query(query.name)
                with deadline.watchdog(cursor):
                    return cursor.execute(*query.render(params)).df()
        except duckdb.OutOfMemoryException as exc:
            log.warning("query %s ran out of memory: %s", query.name, _error_line(exc))
            raise QueryRefused(
                f"this view needs more memory than a worker may use ({self.config.duckdb_memory_limit}):"
                " narrow the time range",
                reason="memory",
            ) from exc
        except duckdb.Error as exc:
            if self._spilling(exc):
                raise self._spill_refusal(query, exc) from exc
            # An object store that stopped answering fails the read of whichever file came next: not that
            # file's fault, so nothing is marked broken and the panel says the store is gone.
            outage = self.storage.outage()
            if outage:
                table = next(iter(sources))
                raise DataUnavailable(table, outage, TABLES[table].expected_columns_text()) from exc
            # Files that cannot be read: IO and input errors, binder errors (a column), and the bare Error
            # that a corrupt page raises. Anything else is a bug and goes on to the 500 handler.
            if not (type(exc) is duckdb.Error or isinstance(exc, READ_ERRORS)):
                raise
            table, entry = self._blame(str(exc), sources)
            if entry is not None and not isinstance(exc, duckdb.BinderException):
                raise BrokenFile(table, entry, self._public_reason(exc)) from exc
            raise DataUnavailable(table, self._public_reason(exc), TABLES[table].expected_columns_text()) from exc
        finally:
            if cursor is not None:
                cursor.close()

    @contextmanager
    def _slot(self, query: Query) -> Iterator[None]:
        """Hold one of the worker's heavy-query slots, so a burst of cold views leaves room for the light ones.

        Metadata queries (meta_*) read footers or one partition and go straight through.
        """
        if query.name.startswith("meta_"):
            yield
            return
        left = deadline.remaining()
        if not self._heavy.acquire(timeout=None if left is None else max(0.0, left)):
            raise QueryRefused("the server is busy with other heavy views: try again in a moment", reason="busy")
        try:
            yield
        finally:
            self._heavy.release()

    def _spilling(self, exc: duckdb.Error) -> bool:
        """Whether DuckDB failed writing its spill files (a full, read-only or missing spill folder)."""
        message = str(exc)
        return isinstance(exc, duckdb.IOException) and (
            str(self.config.duckdb_temp_dir.resolve()) in message or "duckdb_temp" in message
        )

    def _spill_refusal(self, query: Query, exc: duckdb.Error) -> QueryRefused:
        """The view needed more memory than the worker's limit and could not spill the rest: say why, no path."""
        first = str(exc).splitlines()[0]
        log.warning("query %s could not spill to disk: %s", query.name, first)
        self._make_spill_folder()  # removed with the cache folder: the next view that spills may find it again
        why = next((text for text in SPILL_FAILURES if text in first), "the spill folder cannot be written")
        return QueryRefused(
            f"this view needs more memory than a worker may use ({self.config.duckdb_memory_limit}) and could not"
            f" spill the rest to disk ({why}): narrow the time range",
            reason="memory",
        )

    def _blame(self, message: str, sources: dict[str, TableSource]) -> tuple[str, FileEntry | None]:
        """Name the table (and the file, when it names one) that an error message mentions; else the first table."""
        for table, source in sources.items():
            for entry in source.files:
                if entry[0] in message:
                    return table, entry
        for table in sources:
            if f"/{table}/" in message or f"/{table}.parquet" in message:
                return table, None
        return next(iter(sources)), None

    def _public_reason(self, exc: duckdb.Error) -> str:
        """Shorten a DuckDB error for the page: paths relative to DATA_DIR, no SQL, no secret, one line."""
        text = self.storage.public(_error_line(exc))
        if isinstance(exc, duckdb.BinderException):
            return "a required column is missing or has the wrong type (run `dashapp check`): " + text
        return "could not be read: " + text

    # -- cache ------------------------------------------------------------------------------

    @staticmethod
    def _cache_key(kind: str, name: str, version: str, params: dict, fingerprints: dict[str, str]) -> str:
        """`kind:name:hash` of what the entry depends on: the code and settings that computed it (`version`:
        query_version for queries, CODE_VERSION and results_fingerprint for memoized results), the
        parameters and the files read. Nothing about where or how it is served, so hosts share entries."""
        payload = json.dumps([name, version, params, fingerprints], sort_keys=True, default=_json_default)
        return f"{kind}:{name}:" + hashlib.sha256(payload.encode()).hexdigest()[:32]

    def _cached(self, key: str, compute, single: bool = False):
        """The cached value of `key`, else compute and keep it.

        With `single`, concurrent misses of the key compute it once (singleflight.py). Only queries
        ask for it: they never run inside one another, so a thread holds one lock at most and two
        threads cannot wait for each other. Memoized results wrap queries and so take no lock.
        """
        value = self._cache_get(key)
        if value is not None:
            return value
        # Waiting for another's result is worth it only when it is kept: not with no cache, nor one that fails.
        if not single or self.cache is None or self.config.cache_type == "null" or cache_skipped(self.cache):
            value = compute()
            self._cache_set(key, value)
            return value
        left = deadline.remaining()  # waiting for another request's result counts against ours
        wait = WAIT_SECONDS if left is None else max(0.0, left)
        # The host's workers first, then the hosts: one thread per host asks Redis. A lock outlives its holder by
        # gunicorn's worker timeout at most (the query timeout plus 30 s), which is how long a computation may run.
        hold = self.config.query_timeout + 30
        with single_flight(self.lock_folder, key, wait), shared_flight(self.cache, key, wait, hold):
            value = self._cache_get(key)  # computed by whoever held the lock before us
            if value is None:
                value = compute()
                self._cache_set(key, value)
        return value

    @property
    def lock_folder(self) -> Path:
        """The single-flight locks' folder, in the cache folder."""
        return self.config.cache_dir / "locks"

    def _cache_get(self, key: str):
        if self.cache is None:
            return None
        try:
            return self.cache.get(key)
        except Exception:  # the cache is an optimisation, never a dependency
            log.warning("cache get failed for %s", key, exc_info=True)
            return None

    def _cache_set(self, key: str, value) -> None:
        if self.cache is None:
            return
        try:
            self.cache.set(key, value)
        except Exception:
            log.warning("cache set failed for %s", key, exc_info=True)


class BrokenFile(DataUnavailable):
    """DuckDB failed reading one file of a table: skip it and rerun (a DataUnavailable if it gets out)."""

    def __init__(self, table: str, entry: FileEntry, reason: str):
        super().__init__(table, reason, TABLES[table].expected_columns_text())
        self.entry = entry


@dataclass
class _Day:
    """One day of a split query: its cache entry, what it needs and what the entry holds."""

    start: datetime
    end: datetime
    key: str
    wanted: dict  # later partition (None: the only one) -> that partition's fingerprint
    stored: dict  # later partition -> (fingerprint it was computed from, the day's rows)

    @property
    def missing(self) -> set:
        return {e for e, fp in self.wanted.items() if self.stored.get(e, (None,))[0] != fp}


def _error_line(exc: Exception) -> str:
    """The line of a DuckDB error that says what failed.

    An exception raised in a Python filesystem (an object store's) reaches DuckDB's message with its traceback:
    the exception's own line ends that block, and a traceback never reaches a page.
    """
    text = str(exc).strip()
    if text.startswith("Traceback (most recent call last)"):
        return text.split("\n\n", 1)[0].splitlines()[-1]
    return text.splitlines()[0] if text else type(exc).__name__


def _none_first(day: date | None) -> tuple[bool, date]:
    return (day is not None, day or date.min)


def _setting_literal(value) -> str:
    """Render a trusted setting value (from Config, already validated) as a SQL literal."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_sql_literal(v) for v in value) + "]"
    return _sql_literal(str(value))


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot key a cache entry on {type(value).__name__}")
