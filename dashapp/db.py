"""The query runner: named queries (sqlfiles.py) run on the process's sandboxed connection (sandbox.py), cached.

Everything between a caller's parameters and a frame: the tables scanned once per request, identifiers checked
against the real columns, split queries answered per UTC day so a new day costs one day's query, a worker's
heavy-query slots and the request's deadline, one computation per missing cache entry across workers and hosts,
and the errors a page can show (a broken file is skipped and the query rerun). Cache keys name what an entry
depends on, never where it is served, so hosts and deploys share every entry they can.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
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
from .sandbox import Sandbox
from .singleflight import WAIT_SECONDS, single_flight
from .sources import TableSource, mark_broken, scan_table
from .sqlfiles import FRAME_LIBRARIES, QUERIES_DIR, Query, digest, library_versions, load_query, query_version
from .storage import open_storage

log = logging.getLogger(__name__)

READ_ERRORS = (duckdb.IOException, duckdb.InvalidInputException, duckdb.BinderException)
# What DuckDB's message says when its spill folder fails (the OS's words), to repeat on the panel.
SPILL_FAILURES = ("No space left on device", "Read-only file system", "Permission denied", "No such file or directory")
MAX_BROKEN_RETRIES = 3  # files skipped per query run before the error is shown as it is
# Memoized results add to the FRAME_LIBRARIES (sqlfiles.py) the statistics (scipy), the figures (plotly) and
# the tearsheets (quantstats): a host with other versions neither reads nor writes the same entries.
PYTHON_LIBRARIES = ("scipy", "plotly", "quantstats")
# The current request's scans, table -> TableSource (None outside a request): see Database.scan().
_SNAPSHOT: ContextVar[dict | None] = ContextVar("dashapp_scan_snapshot", default=None)


def _code_version() -> str:
    """Every Python file of the package, every SQL file and the libraries' versions, for memoized results:
    nearly any of it can change a number computed in Python, and a wrong number costs more than a cold entry."""
    package = Path(__file__).resolve().parent
    # Named alike in a checkout and in the wheel (which carries queries/ inside the package): the same code is
    # the same version wherever it is installed.
    named = [(f"dashapp/{p.relative_to(package)}", p) for p in package.rglob("*.py")]
    named += [(f"queries/{p.name}", p) for p in QUERIES_DIR.glob("*.sql")]
    files = [name.encode() + b"\0" + path.read_bytes() for name, path in sorted(named)]
    return digest([*files, *library_versions(FRAME_LIBRARIES + PYTHON_LIBRARIES)])


# Read once, at import, from the code this process runs: read later, a deploy that replaced the files under a
# running worker would have that worker file its old code's results under the new code's keys.
CODE_VERSION = _code_version()


class Database:
    """Runs named queries over the contract tables in DATA_DIR, memoized in `cache` when given."""

    def __init__(self, config: Config, cache=None):
        self.config = config
        self.cache = cache
        self.storage = open_storage(config.data_dir)
        self.sandbox = Sandbox(config, self.storage)
        self._heavy = threading.BoundedSemaphore(config.heavy_queries)
        self._columns: dict[str, tuple[str, dict[str, str]]] = {}  # table -> (fingerprint, its columns)

    # -- connection -------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        """The sandbox settings as DuckDB reads them back (readiness, benchmarks)."""
        return self.sandbox.settings()

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
            self.sandbox.ensure_views({t: s for t, s in self.sources().items() if s is not None})
        except (duckdb.Error, OSError) as exc:  # a broken file: the first query that reads it says so
            log.warning("views not prepared at start: %s", _error_line(exc))

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
            self.sandbox.ensure_views(sources)
            with self._slot(query):
                cursor = self.sandbox.connection().cursor()
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
        self.sandbox.make_spill_folder()  # removed with the cache folder: the next view that spills may find it again
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


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot key a cache entry on {type(value).__name__}")
