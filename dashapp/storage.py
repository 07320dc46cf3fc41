"""Where the data folder lives: a folder on disk, or a bucket and prefix on an object store (objectstore.py).

Everything that reads the data folder asks a Storage: the scan lists a table's files, each with a
version (size and mtime on disk; size, ETag and last-modified time from an object listing), the
probe reads their footers, and DuckDB's connection gets the sandbox's allowed folder and, for an
object store, the filesystem it reads through. Fingerprints, caching, auto-refresh and the bad-file
policy above this module are the same for both. Error texts that may reach a page or a log are
scrubbed of secret values here.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # config imports this module: it stays light (pyarrow is imported where footers are read)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .contract import Table
    from .dayslices import FileEntry


# URL scheme -> the fsspec package that reads it, and what to install.
SCHEMES = {
    "s3": ("s3fs", "pip install 'dashapp[s3]'"),
    "s3a": ("s3fs", "pip install 'dashapp[s3]'"),
    "gs": ("gcsfs", "pip install gcsfs"),
    "gcs": ("gcsfs", "pip install gcsfs"),
    "az": ("adlfs", "pip install adlfs"),
    "abfs": ("adlfs", "pip install adlfs"),
    "abfss": ("adlfs", "pip install adlfs"),
}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Values that must never reach a page or a log line, whatever library wrote the message.
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_CLIENT_SECRET",
)


class StorageUnreachable(Exception):
    """The object store did not answer (or refused the credentials): nothing in it can be judged now."""


def data_location(text: str | Path) -> Path | str:
    """Read a DASHAPP_DATA_DIR value: an object store URL stays text as written, anything else is a folder."""
    text = str(text).strip()
    return text if _URL.match(text) else Path(text).expanduser()


def location_problem(location: Path | str) -> str:
    """Say what is wrong with a data location, to follow the setting's name ("" when nothing is).

    Never echoes a URL's user, password or query: they may carry a secret.
    """
    if isinstance(location, Path):
        if location.exists() and not location.is_dir():
            return f"must be a folder, got the file {location}"
        return ""
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        return f"must be a folder or an s3://, gs:// or az:// URL, got {scheme}://"
    if "@" in parts.netloc:
        return (
            "must not carry credentials: give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            " (or the instance's role), not in the URL"
        )
    if parts.query or parts.fragment:
        return f"must be {scheme}://bucket/prefix, without a ?query or #fragment"
    if not parts.netloc or ".." in parts.path.split("/"):
        return f"must be {scheme}://bucket/prefix, got {scheme}://{parts.netloc}{parts.path}"
    package, install = SCHEMES[scheme]
    if importlib.util.find_spec(package) is None or importlib.util.find_spec("fsspec") is None:
        return f"is a {scheme}:// URL, which needs the {package} package: {install}"
    return ""


@lru_cache(maxsize=64)
def open_storage(location: Path | str) -> Storage:
    """The Storage of a data location, one per process and location (an object store keeps its listing)."""
    location = data_location(location)
    if isinstance(location, str):
        from .objectstore import ObjectStore  # here: it builds on this module's interface

        return ObjectStore(location)
    return LocalFolder(location)


def scrub(text: str) -> str:
    """Replace the values of secret environment variables in a text meant for a page or a log."""
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return scrub(text.splitlines()[0] if text else type(error).__name__)


@dataclass(frozen=True)
class Found:
    """A table's files as listed: (path, size, version) each, and folders that could not be listed."""

    files: list[FileEntry]
    unlisted: list[tuple[str, str]] = field(default_factory=list)  # (folder relative to the root + "/", reason)


class Storage:
    """The interface both kinds of data location answer (LocalFolder, ObjectStore)."""

    root: str  # the folder or URL, as DuckDB reads the files under it; no trailing slash

    def state(self) -> str:
        """ok, not there, not a folder or unreachable."""
        raise NotImplementedError

    def unavailable_reason(self) -> str:
        """Why no table can be read at all ("" when the location answers), for a panel's empty state."""
        raise NotImplementedError

    def outage(self) -> str:
        """After a failed read: why the location cannot be read, checked afresh ("" when it can)."""
        raise NotImplementedError

    def list_table(self, table: Table) -> Found | None:
        """The table's published parquet files (<table>/**.parquet, else <table>.parquet); None: neither exists."""
        raise NotImplementedError

    def has_folder(self, table: Table) -> bool:
        raise NotImplementedError

    def has_file(self, table: Table) -> bool:
        raise NotImplementedError

    def read_schema(self, path: str) -> pa.Schema:
        raise NotImplementedError

    def read_metadata(self, path: str) -> pq.FileMetaData:
        raise NotImplementedError

    def relative(self, path: str) -> str:
        """A file's path relative to the root, as panels and logs name it."""
        raise NotImplementedError

    def path_of(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def sandbox_directory(self) -> str:
        """The one data directory DuckDB may read (its allowed_directories entry), with a trailing slash."""
        raise NotImplementedError

    def attach(self, con) -> None:
        """Give a DuckDB connection what it needs to read the files (before its sandbox is locked)."""

    def public(self, text: str) -> str:
        """A message with this location's paths made relative and secrets scrubbed."""
        return scrub(text.replace(self.root + "/", ""))


def published(relative: str) -> bool:
    """Whether a file under a table's folder is readable data: a .parquet name, no part hidden (. or _)."""
    parts = relative.split("/")
    return parts[-1].endswith(".parquet") and not any(p.startswith((".", "_")) for p in parts)


class LocalFolder(Storage):
    """A folder on this machine: os.walk and stat, as fast as the scan on every request needs."""

    def __init__(self, path: Path):
        self.path = path
        self.root = str(path)

    def state(self) -> str:
        return "ok" if self.path.is_dir() else "not a folder" if self.path.exists() else "not there"

    def unavailable_reason(self) -> str:
        return "" if self.path.is_dir() else "the data folder is not there (data unavailable)"

    def outage(self) -> str:
        return ""  # a local read error is the file's: the bad-file policy judges it

    def list_table(self, table: Table) -> Found | None:
        folder, single = self.path / table.name, self.path / f"{table.name}.parquet"
        paths: list[str] = []  # strings, not Paths: a scan runs on every request, and pathlib is the slow part
        unlisted: list[tuple[str, str]] = []
        if folder.is_dir():

            def unreadable(error: OSError) -> None:
                unlisted.append((self.relative(error.filename) + "/", f"cannot be read ({error.strerror})"))

            for root, dirs, names in os.walk(str(folder), onerror=unreadable):
                dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
                paths += [os.path.join(root, n) for n in names if published(n)]
        elif single.is_file():
            paths = [str(single)]
        else:
            return None
        files = []
        for path in sorted(paths):
            try:
                st = os.stat(path)
            except FileNotFoundError:  # deleted between listing and stat
                continue
            files.append((path, st.st_size, st.st_mtime_ns))
        return Found(files, unlisted)

    def has_folder(self, table: Table) -> bool:
        return (self.path / table.name).is_dir()

    def has_file(self, table: Table) -> bool:
        return (self.path / f"{table.name}.parquet").is_file()

    def read_schema(self, path: str) -> pa.Schema:
        import pyarrow.parquet as pq

        return pq.read_schema(path)

    def read_metadata(self, path: str) -> pq.FileMetaData:
        import pyarrow.parquet as pq

        return pq.read_metadata(path)

    def relative(self, path: str) -> str:
        try:
            return Path(path).relative_to(self.path).as_posix()
        except ValueError:
            return Path(path).name

    def sandbox_directory(self) -> str:
        return str(self.path.resolve()) + "/"

    def public(self, text: str) -> str:
        return scrub(text.replace(str(self.path.resolve()) + "/", ""))
