"""A data folder on an object store: a bucket and prefix on S3 (s3fs), Google Cloud Storage (gcsfs) or Azure (adlfs),
listed and read through fsspec.

The store is listed once for all tables, and the listing answers a process's scans for
LISTING_SECONDS: a LIST request costs milliseconds where a local scan costs microseconds, and a
page asks for the tables of a dozen panels at once. An older listing still answers, for up to
LISTING_STALE_SECONDS, while a thread lists again, so no request waits for a LIST while the store
answers; a failed listing never answers for a newer one. Each listed object's ETag and
last-modified time are its version in the scan's fingerprints. Credentials never appear in a URL:
s3fs (botocore) reads the standard AWS variables or the instance's role.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .storage import SCHEMES, Found, Storage, StorageUnreachable, first_line, published

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .contract import Table

log = logging.getLogger(__name__)

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
