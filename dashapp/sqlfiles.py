"""The SQL files: queries/<name>.sql loaded by name, their headers parsed and checked, and their version.

A query's text and headers (the params it binds, the tables it reads, how it is split into days) are checked
once, when it is loaded, so a call that does not fit the file fails before anything runs. Values are always
bound parameters; the only SQL spelt out here is column names a query declares as identifiers, which the
runner (db.py) checks against the table's real columns before they are quoted in. query_version says what a
query's cached answer depends on besides its parameters and files, so that a deploy keeps exactly the
answers its change cannot affect.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .contract import TABLES
from .resources import shipped_folder

QUERIES_DIR = shipped_folder("queries")
_PARAM = re.compile(r"(?<![:$\w])\$([a-z_][a-z0-9_]*)")
_HEADER = re.compile(r"^--\s*(params|returns|tables|split|later|identifiers):\s*(.*)$")
# {name} or {name: fragment}; see Query.render().
_IDENTIFIER = re.compile(r"\{([a-z_][a-z0-9_]*)(?::([^{}]*))?\}")
_WORD = re.compile(r"[a-z_][a-z0-9_]*")
LATER_PARAMS = frozenset({"later_from", "later_to"})
# The code that turns a SQL file's answer into cached frames, part of every query's cache key (query_version):
# sqlfiles.py (the headers, the identifiers spelt out), sandbox.py (the views), db.py (the identifiers checked,
# the per-day entries), dayslices.py (the cut into days), sources.py, storage.py and objectstore.py (which files a
# view reads) and contract.py (the columns a view adds). Their source is hashed, not a constant bumped by hand: a
# forgotten bump would serve frames of the old logic as the new one's, and these files change far less often
# than the charts and pages, whose deploys then keep every query result.
QUERY_LAYER = (
    "sqlfiles.py",
    "sandbox.py",
    "db.py",
    "dayslices.py",
    "sources.py",
    "storage.py",
    "objectstore.py",
    "contract.py",
)
# Libraries whose version is part of a key: DuckDB computes a frame and pandas, numpy and pyarrow pickle it,
# so a host with other versions neither reads nor writes the same entries (db.CODE_VERSION adds
# the libraries of memoized results).
FRAME_LIBRARIES = ("duckdb", "pandas", "numpy", "pyarrow")


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


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """Quote server-side text (a file path, a setting) as a SQL string; never a value from a request."""
    return "'" + text.replace("'", "''") + "'"


def query_version(query: Query) -> str:
    """What a query's cached answer depends on besides its parameters and files: its SQL and the query layer."""
    return digest([query.text.encode(), QUERY_LAYER_VERSION.encode()])


def _query_layer_version() -> str:
    """The QUERY_LAYER files, the view macros the queries call and the FRAME_LIBRARIES' versions."""
    package = Path(__file__).resolve().parent
    sources = [(package / name).read_bytes() for name in QUERY_LAYER]
    return digest([*sources, *(q.text.encode() for q in view_macros()), *library_versions(FRAME_LIBRARIES)])


def library_versions(names: tuple[str, ...]) -> list[bytes]:
    """Each library's installed version (or its absence), to key what it computed or pickled."""
    found = []
    for name in names:
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} absent".encode())
    return found


def digest(parts) -> str:
    """A hash of byte strings, each length-prefixed so that no two lists of parts run together the same."""
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big") + part)
    return sha.hexdigest()[:16]


# Read once, at import, from the code this process runs: read later, a deploy that replaced the files under a
# running worker would have that worker file its old code's results under the new code's keys.
QUERY_LAYER_VERSION = _query_layer_version()
