"""The sandboxed DuckDB connection: one per process, walled in before it serves, with views over the tables.

DuckDB runs SQL with the rights of the worker, so the connection is locked down before its first query: it may read
only the data folder (or the object store's bucket/prefix) and write only its spill folder, loads no extension and
cannot be reconfigured by a query. A connection whose walls do not read back as set is refused. The views are the
only SQL built in Python besides declared identifiers (sqlfiles.py): their DDL lists the server-side files a
table's fingerprint describes, so a view reads exactly the files its cache key names.
"""

from __future__ import annotations

import logging
import os
import threading

import duckdb

from .config import Config
from .sources import TableSource
from .sqlfiles import load_query, sql_literal, view_macros
from .storage import Storage, open_storage

log = logging.getLogger(__name__)

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
    file_list = "[" + ", ".join(sql_literal(f[0]) for f in source.files) + "]"
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
    """The DuckDB settings that wall the connection in, in the order they must be applied (the lock comes last).

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


class Sandbox:
    """The process's DuckDB connection in its sandbox, and the views of the tables it has built."""

    def __init__(self, config: Config, storage: Storage):
        self.config = config
        self.storage = storage
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._views: dict[str, str] = {}  # table -> fingerprint the view was built from

    def connection(self) -> duckdb.DuckDBPyConnection:
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
        # (Database._spill_refusal), not the worker. DuckDB names its spill files by process, so the workers share it.
        self.make_spill_folder()
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

    def make_spill_folder(self) -> None:
        try:
            self.config.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("DuckDB's spill folder %s cannot be made: %s", self.config.duckdb_temp_dir, exc)

    def settings(self) -> dict[str, str]:
        """Read the sandbox settings back from DuckDB, as the start-up self-test does."""
        names = [n for n, _ in sandbox_settings(self.config)]
        rows = self.connection().execute(load_query("meta_settings").text, {"names": names})
        return dict(rows.fetchall())

    def ensure_views(self, sources: dict[str, TableSource]) -> None:
        """(Re)build the views whose files changed since they were built, then their macros."""
        con = self.connection()
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


def _setting_literal(value) -> str:
    """Render a trusted setting value (from Config, already validated) as a SQL literal."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    return sql_literal(str(value))
