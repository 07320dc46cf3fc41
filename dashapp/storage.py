"""Where the data folder lives: a folder on disk, or a bucket and prefix on an object store read through fsspec.

Everything that reads the data folder asks a Storage: the scan lists a table's files, each with a
version (size and mtime on disk; size, ETag and last-modified time from an object listing), the
probe reads their footers, and DuckDB's connection gets the sandbox's allowed folder and, for an
object store, the filesystem it reads through. Fingerprints, caching, auto-refresh and the bad-file
policy above this module are the same for both.

An object store is listed once for all tables, and the listing answers a process's scans for
LISTING_SECONDS: a LIST request costs milliseconds where a local scan costs microseconds, and a
page asks for the tables of a dozen panels at once. An older listing is still answered for a few
seconds while a thread lists again, so no request waits for a LIST while the store answers (a
cached view costs what it costs on disk); a failed one is never answered from. Credentials never
appear in a URL: s3fs (botocore) reads the standard AWS variables or the instance's role, and
error texts are scrubbed of secret values.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # config imports this module: it stays light (pyarrow is imported where footers are read)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .contract import Table
    from .dayslices import FileEntry

log = logging.getLogger(__name__)

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
# How long one listing answers a process's scans: new objects show within this. Shorter costs more than it looks:
# each LIST is parsed in the worker (a cached Operations view took twice as long with a listing every second), and
# S3 bills it. Auto-refresh ticks every 5 s at the most.
LISTING_SECONDS = 5.0
LISTING_STALE_SECONDS = 60.0  # how long an older listing answers while a new one is made in the background
# Short network timeouts: a store that does not answer must turn the panels into a clear error within a
# request's deadline, not hold a worker for botocore's 60-second default.
_S3_OPTIONS = {
    "config_kwargs": {"connect_timeout": 3, "read_timeout": 10, "retries": {"max_attempts": 2, "mode": "standard"}}
}
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
    return ObjectStore(location) if isinstance(location, str) else LocalFolder(location)


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


@dataclass(frozen=True)
class _Object:
    size: int
    version: str  # ETag and last-modified time: a rewritten object changes it
    modified: datetime | None
    info: dict = field(compare=False, repr=False)  # the listing's entry, as the filesystem's info() gives it


@dataclass(frozen=True)
class _Listing:
    at: float
    objects: dict[str, _Object]  # path relative to the root -> what the listing says of it
    error: str = ""


class ObjectStore(Storage):
    """A bucket and prefix on S3 (s3fs), Google Cloud Storage (gcsfs) or Azure (adlfs), listed and read by fsspec."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.scheme = parts.scheme.lower()
        self.key_root = f"{parts.netloc}/{parts.path.strip('/')}".rstrip("/")  # bucket/prefix, as fsspec names it
        self.root = f"{self.scheme}://{self.key_root}"
        self._forget()
        # A fork (a background job, a gunicorn worker of a preloading server) starts afresh: the client's
        # event loop and sockets are not shared, and a lock held by another thread at the fork never opens.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._fs_lock = threading.Lock()
        self._fs = None
        self._listing: _Listing | None = None
        self._last_error = ""  # logged when it changes, not on every listing

    # -- the fsspec filesystem ---------------------------------------------------------------

    def filesystem(self):
        """This process's fsspec filesystem, made on first use."""
        with self._fs_lock:
            if self._fs is None:
                import fsspec

                options = dict(_S3_OPTIONS) if SCHEMES[self.scheme][0] == "s3fs" else {}
                # botocore reads AWS_DEFAULT_REGION; AWS_REGION is the name the other AWS SDKs and tools use.
                if options and os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
                    options["client_kwargs"] = {"region_name": os.environ["AWS_REGION"]}
                # No listings cache: a new object must show at the next listing, not when fsspec forgets its own.
                self._fs = fsspec.filesystem(self.scheme, skip_instance_cache=True, use_listings_cache=False, **options)
                if options:
                    self._fs.retries = 1  # botocore retries once already; s3fs would try a timed-out call 5 times
            return self._fs

    @property
    def protocols(self) -> tuple[str, ...]:
        protocol = type(self.filesystem()).protocol
        return (protocol,) if isinstance(protocol, str) else tuple(protocol)

    # -- the listing -------------------------------------------------------------------------

    def _listed(self, fresh: bool = False) -> _Listing:
        """The objects under the prefix, listed at most every LISTING_SECONDS (or now, when `fresh`)."""
        kept = self._listing
        if not fresh and kept is not None:
            age = time.monotonic() - kept.at
            if age < LISTING_SECONDS:
                return kept
            if age < LISTING_STALE_SECONDS and not kept.error:
                self._list_in_background()
                return kept
        with self._lock:  # one listing at a time: the others wait for it and take it
            kept = self._listing
            if fresh or kept is None or time.monotonic() - kept.at >= LISTING_SECONDS:
                self._listing = self._list(time.monotonic())
            return self._listing

    def _list_in_background(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # a listing is under way

        def refresh() -> None:
            try:
                self._listing = self._list(time.monotonic())
            finally:
                self._lock.release()

        threading.Thread(target=refresh, name="dashapp-object-listing", daemon=True).start()

    def _list(self, now: float) -> _Listing:
        try:
            fs = self.filesystem()
            found = fs.find(self.key_root, detail=True)
        except Exception as exc:  # any failure to list: the store is unusable until a listing succeeds
            return self._failed(now, exc)
        start = len(self.key_root) + 1
        objects = {}
        for name, info in found.items():
            name = name.rstrip("/")
            if info.get("type") == "directory" or not name.startswith(self.key_root + "/"):
                continue
            objects[name[start:]] = _Object(int(info.get("size") or 0), _version(info), _modified(info), info)
        if self._last_error:
            log.warning("the object store %s answers again", self.root)
            self._last_error = ""
        return _Listing(now, objects)

    def _failed(self, now: float, exc: BaseException) -> _Listing:
        error = first_line(exc)
        if error != self._last_error:
            log.warning("the object store %s cannot be read: %s", self.root, error)
            self._last_error = error
        return _Listing(now, {}, error)

    def _lose(self, exc: BaseException) -> StorageUnreachable:
        """Record that a read found the store gone, so the next scans say so; the exception to raise."""
        with self._lock:
            self._listing = self._failed(time.monotonic(), exc)
        return StorageUnreachable(self._listing.error)

    # -- Storage -----------------------------------------------------------------------------

    def state(self) -> str:
        listing = self._listed()
        return "unreachable" if listing.error else "ok" if listing.objects else "not there"

    def unavailable_reason(self) -> str:
        listing = self._listed()
        if listing.error:
            return f"the object store cannot be reached: {listing.error} (data unavailable)"
        return "" if listing.objects else f"nothing is stored under {self.root}/ (data unavailable)"

    def outage(self) -> str:
        listing = self._listed(fresh=True)
        return f"the object store cannot be reached: {listing.error}" if listing.error else ""

    def list_table(self, table: Table) -> Found | None:
        objects = self._listed().objects
        prefix = table.name + "/"
        names = sorted(name for name in objects if name.startswith(prefix))
        if not names:
            single = f"{table.name}.parquet"
            names = [single] if single in objects else []
            if not names:
                return None
        files = [
            (f"{self.root}/{name}", objects[name].size, objects[name].version)
            for name in names
            if published(name.removeprefix(prefix))
        ]
        return Found(files)

    def has_folder(self, table: Table) -> bool:
        return any(name.startswith(table.name + "/") for name in self._listed().objects)

    def has_file(self, table: Table) -> bool:
        return f"{table.name}.parquet" in self._listed().objects

    def read_schema(self, path: str) -> pa.Schema:
        import pyarrow.parquet as pq

        return self._read_footer(path, pq.read_schema)

    def read_metadata(self, path: str) -> pq.FileMetaData:
        import pyarrow.parquet as pq

        return self._read_footer(path, pq.read_metadata)

    def _read_footer(self, path: str, read: Callable):
        import pyarrow as pa

        try:
            with self.open(self.key_of(path)) as handle:
                return read(handle)
        except (pa.ArrowException, FileNotFoundError, PermissionError):
            raise  # the object's own fault: the bad-file policy names it
        except Exception as exc:
            if unreachable(exc):
                raise self._lose(exc) from None
            raise OSError(first_line(exc)) from None

    def relative(self, path: str) -> str:
        return path[len(self.root) + 1 :] if path.startswith(self.root + "/") else path.rsplit("/", 1)[-1]

    def sandbox_directory(self) -> str:
        return self.root + "/"

    def attach(self, con) -> None:
        from .guardfs import GuardedFileSystem  # fsspec is there: this store's URL passed location_problem

        con.register_filesystem(GuardedFileSystem(self))

    # -- what GuardedFileSystem reads through ------------------------------------------------

    def key_of(self, path: str) -> str:
        """The object's name as fsspec takes it (bucket/key); PermissionError for anything outside the prefix."""
        text = str(path)
        for protocol in self.protocols:
            if text.startswith(protocol + "://"):
                text = text[len(protocol) + 3 :]
                break
        parts = text.split("/")
        inside = text == self.key_root or text.startswith(self.key_root + "/")
        if not inside or any(part in ("..", ".") for part in parts):
            raise PermissionError(f"{path}: outside the data store {self.root}/")
        return text

    def known(self, key: str) -> _Object | None:
        """What the last listing says of an object (its size and time, without another request)."""
        listing = self._listing
        return listing.objects.get(key[len(self.key_root) + 1 :]) if listing is not None else None

    def open(self, key: str):
        """Open an object for reading, each read one ranged GET of exactly what was asked.

        DuckDB and pyarrow ask for whole footers and column chunks, merged already: a read-ahead cache would
        fetch up to s3fs' block (50 MB) past each, 457 MiB for a 30-day latency query needing 52 MiB.
        """
        known = self.known(key)
        if known is None:
            return self.filesystem().open(key, "rb", cache_type="none")
        # The listing's size and entry spare the HEAD request s3fs would send per open (for the size, and for the
        # details it keeps about the object).
        handle = self.filesystem().open(key, "rb", size=known.size, cache_type="none")
        handle.details = known.info
        return handle


def unreachable(exc: BaseException) -> bool:
    """Whether an error (or one it was raised from) says the store did not answer or refused the credentials."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ConnectionError | TimeoutError):
            return True
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & {"EndpointConnectionError", "ConnectionError", "HTTPClientError", "NoCredentialsError"}:
            return True
        if names & {"ClientConnectionError", "ServerTimeoutError", "FSTimeoutError"}:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _version(info: dict) -> str:
    """An object's version from its listing: the ETag (or generation) and the last-modified time."""
    etag = info.get("ETag") or info.get("etag") or info.get("generation") or info.get("md5Hash") or ""
    modified = _modified(info)
    return f"{str(etag).strip(chr(34))}@{modified.isoformat() if modified else ''}"


def _modified(info: dict) -> datetime | None:
    value = info.get("LastModified") or info.get("last_modified") or info.get("updated") or info.get("mtime")
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
