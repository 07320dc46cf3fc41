"""Prometheus' multiprocess files, kept so that the volume they live on cannot kill a worker.

Under gunicorn each worker counts into files of its own in PROMETHEUS_MULTIPROC_DIR, memory-mapped, and a scrape
sums every worker's files (prometheus.py). prometheus_client makes a file 64 KiB with ftruncate, and doubles it the
same way when its keys outgrow it, so the file is sparse: a page gets its storage only when a value is first
written through the mapping. On a full volume (a small tmpfs, /dev/shm) that write cannot fail with an error: the
kernel sends SIGBUS, the worker dies, and its successor dies the same way. So here:

- every page is allocated (posix_fallocate) before it is mapped: when a file is made and before it doubles. A full
  volume is then an OSError where it is caught, never a SIGBUS;
- each process keeps its values in memory as well, behind a Breaker: a worker whose files fail (no space, no write
  permission, removed) keeps counting, logs it once, and writes its totals into new files once the folder works
  again (removed: made again). No count is lost, only late; /readyz says "prometheus files" meanwhile;
- when a worker exits, gunicorn's child_exit adds its counts into one archive file per kind and removes its files
  (archive_exited). prometheus_client's mark_process_dead removes only live gauges' files; left alone, every
  recycled worker would leave two allocated files that each scrape reads for ever;
- a scrape reads the files under a shared lock that archiving takes exclusively, so it never counts an exited
  worker both in the archive and in its own file (a counter would seem to drop, which Prometheus takes for a reset).

Nothing here maps a file without having allocated it first, in the workers or in gunicorn's master (archive).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import values
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from . import breaker
from .breaker import Breaker

log = logging.getLogger(__name__)

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable; dashapp/gunicorn_conf.py sets it
INITIAL_SIZE = 1 << 16  # prometheus_client's first size of a file (mmap_dict._INITIAL_MMAP_SIZE)
ARCHIVE = "archive"  # counter_archive.db, histogram_archive.db: the exited workers' counts
_SCRAPE_LOCK = ".scrape.lock"  # not *.db: a scrape reads only those
ARCHIVE_WAIT = 2.0  # seconds gunicorn's master waits for the scrapes under way before it archives


def folder() -> Path | None:
    """The folder of this server's files, or None when the process counts in memory alone (not under gunicorn)."""
    value = os.environ.get(ENVIRONMENT)
    return Path(value) if value else None


def install() -> None:
    """Make prometheus_client count into this module's files; call before the first metric is made."""
    if folder() is not None:
        values.ValueClass = GuardedValue
        _files()  # now, while the worker starts on one thread


class PreallocatedDict(MmapedDict):
    """prometheus_client's MmapedDict whose pages are all allocated before they are mapped."""

    def __init__(self, filename: str):
        _allocate(filename, INITIAL_SIZE)
        super().__init__(filename)

    def _init_value(self, key: str) -> None:
        # The size MmapedDict._init_value will double to for this key (its entry: length, padded key, two doubles).
        encoded = len(key.encode("utf-8"))
        needed = self._used + 4 + encoded + (8 - (encoded + 4) % 8) + 16
        capacity = self._capacity
        while needed > capacity:
            capacity *= 2
        if capacity != self._capacity:
            _allocate(self._fname, capacity)
        super()._init_value(key)


def _allocate(filename: str, size: int) -> None:
    """Give the file's first `size` bytes their storage now (ENOSPC here, not SIGBUS later).

    A descriptor of its own: MmapedDict's is O_APPEND, which glibc's posix_fallocate emulation (for file systems
    without fallocate) refuses."""
    fd = os.open(filename, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        existed = os.fstat(fd).st_size
        try:
            os.posix_fallocate(fd, 0, max(size, existed))
        except OSError:
            if not existed:  # an empty file is no prometheus_client file: a scrape would fail on it
                os.unlink(filename)
            raise
    finally:
        os.close(fd)


class _Files:
    """One process's files, one per kind of value (counter, histogram, gauge_<mode>), and every value it counts."""

    def __init__(self, where: Path):
        self.folder = where
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.values: dict[tuple[str, str], list[float]] = {}  # (kind, key) -> [value, timestamp]
        self.breaker = Breaker(
            f"the Prometheus folder {where}",
            "prometheus files",
            (OSError,),
            consequence="counting in memory",
            resumed="its counts are in its files again",
        )
        self._dicts: dict[str, PreallocatedDict] = {}
        self._inodes: dict[str, int] = {}
        self._broken = False
        self._checked_at = time.monotonic()

    def get(self, kind: str, key: str) -> float:
        with self.lock:
            return self.values.get((kind, key), [0.0])[0]

    def update(self, kind: str, key: str, value: float | None, add: float = 0.0, timestamp: float = 0.0) -> None:
        """Set a value (or add to it), in memory and, while they work, in this process's file."""
        with self.lock:
            entry = self.values.setdefault((kind, key), [0.0, 0.0])
            entry[0] = entry[0] + add if value is None else value
            entry[1] = timestamp
            self.breaker.call(None, self._write, kind, key, entry[0], entry[1])

    def _write(self, kind: str, key: str, value: float, timestamp: float) -> None:
        try:
            if self._broken:
                self._restore()
            self._dict(kind).write_value(key, value, timestamp)
            self._check_still_there()
        except OSError:
            self._broken = True
            raise

    def _dict(self, kind: str) -> PreallocatedDict:
        found = self._dicts.get(kind)
        if found is None:
            self.folder.mkdir(parents=True, exist_ok=True)  # removed while serving: made again
            path = self._path(kind)
            found = self._dicts[kind] = PreallocatedDict(str(path))
            self._inodes[kind] = path.stat().st_ino
        return found

    def _path(self, kind: str) -> Path:
        return self.folder / f"{kind}_{self.pid}.db"

    def _restore(self) -> None:
        """Start over on files made afresh (or kept, if they are still there) holding every value counted so far."""
        for found in self._dicts.values():
            found.close()
        self._dicts.clear()
        for (kind, key), (value, timestamp) in self.values.items():
            self._dict(kind).write_value(key, value, timestamp)
        self._broken = False

    def _check_still_there(self) -> None:
        """Every few seconds: a file removed (the folder emptied or deleted) still takes writes, which no scrape
        reads; that is a failure too, and the breaker's next trial restores the counts into new files."""
        now = time.monotonic()
        if now - self._checked_at < breaker.RETRY_AFTER:
            return
        self._checked_at = now
        for kind, inode in self._inodes.items():
            if self._path(kind).stat().st_ino != inode:  # FileNotFoundError when it is gone
                raise FileNotFoundError(errno.ENOENT, "the file was replaced", str(self._path(kind)))


_PROCESS: list[_Files] = []  # this process's, made at its first value; a forked child makes its own
_READERS: dict[Path, Breaker] = {}  # a scrape's, per folder


_MAKING = threading.Lock()


def _files() -> _Files:
    current = _PROCESS[0] if _PROCESS else None
    if current is None or current.pid != os.getpid():
        with _MAKING:
            current = _PROCESS[0] if _PROCESS else None
            if current is None or current.pid != os.getpid():
                # A fork (a background job's process) starts from nothing: it must not write into its parent's
                # mapping, nor with its parent's positions in it.
                current = _Files(folder())
                _PROCESS[:] = [current]
    return current


def _after_fork() -> None:
    global _MAKING
    _MAKING = threading.Lock()  # another thread of the parent may have held it


os.register_at_fork(after_in_child=_after_fork)


class GuardedValue:
    """prometheus_client's value class (values.ValueClass) in multiprocess mode, on _Files instead of its own."""

    _multiprocess = True

    def __init__(self, typ, metric_name, name, labelnames, labelvalues, help_text, multiprocess_mode="", **_kwargs):
        self._kind = f"{typ}_{multiprocess_mode}" if typ == "gauge" else typ
        self._key = mmap_key(metric_name, name, labelnames, labelvalues, help_text)
        # In the file from the start, as prometheus_client does: a histogram's buckets that nothing fell in yet
        # must be there at 0, or a scrape would lack them (+Inf among them).
        _files().update(self._kind, self._key, None)

    def inc(self, amount: float) -> None:
        _files().update(self._kind, self._key, None, add=amount)

    def set(self, value: float, timestamp: float | None = None) -> None:
        _files().update(self._kind, self._key, value, timestamp=timestamp or 0.0)

    def set_exemplar(self, exemplar) -> None:  # not in multiprocess mode (nor in prometheus_client's)
        return

    def get(self) -> float:
        return _files().get(self._kind, self._key)

    def get_exemplar(self):
        return None


def breakers() -> list[Breaker]:
    """This process's breakers on the files (writing its counts, reading all for a scrape), for /readyz."""
    where = folder()
    current = _PROCESS[0] if _PROCESS and _PROCESS[0].pid == os.getpid() else None
    return [current.breaker if current else None, _READERS.get(where)] if where else []


class FilesCollector:
    """Every worker's counts, summed from the folder's files at each scrape.

    prometheus_client's MultiProcessCollector refuses to be made when the folder is missing and fails a scrape on
    one file it cannot read; this one answers with what it can read, logs a failure once and /readyz says so.
    """

    def __init__(self, where: Path):
        self.folder = where
        if where not in _READERS:
            _READERS[where] = Breaker(
                f"the Prometheus folder {where}, read for a scrape,",
                "prometheus files",
                (OSError, RuntimeError, struct.error),  # a file cut short: "corrupted" (RuntimeError) or too short
                consequence="answering /metrics without the request counts",
                resumed="answering /metrics with them again",
            )
        self.breaker = _READERS[where]

    def collect(self):
        return self.breaker.call([], self._collect)

    def _collect(self):
        with _scrape_lock(self.folder, fcntl.LOCK_SH):
            paths = [str(p) for p in self.folder.glob("*.db")]
            try:
                return list(MultiProcessCollector.merge(paths, accumulate=True))
            except (OSError, RuntimeError, struct.error):
                readable = [p for p in paths if _readable(p)]
                if len(readable) == len(paths):
                    raise
                return list(MultiProcessCollector.merge(readable, accumulate=True))


_SKIPPED: set[str] = set()  # files a scrape of this process skipped, each logged once


def _readable(path: str) -> bool:
    try:
        MmapedDict.read_all_values_from_file(path)  # reads the file (what it returns iterates over the bytes read)
    except (OSError, RuntimeError, struct.error) as exc:
        if path not in _SKIPPED:
            _SKIPPED.add(path)
            log.warning("scrapes skip the Prometheus file %s: %s", path, exc)
        return False
    return True


def archive_exited(pid: int, where: Path) -> None:
    """Add an exited worker's counters and histograms into the archive files and remove its files (gunicorn's
    child_exit, in the master). A failure (the folder full, say) is logged and leaves its files, still summed."""
    try:
        mark_process_dead(pid, str(where))  # its live gauges' files, as prometheus_client expects
        with _scrape_lock(where, fcntl.LOCK_EX) as held:
            if not held:  # a scrape stuck for long: its files stay, still summed, rather than the master wait
                log.warning("the Prometheus files of worker %d stay in %s: a scrape holds them", pid, where)
                return
            for path in sorted(where.glob(f"*_{pid}.db")):
                kind = path.name.removesuffix(f"_{pid}.db")
                if kind.startswith("gauge_"):  # a gauge is per process, nothing to add up
                    continue
                _add_into(where / f"{kind}_{ARCHIVE}.db", path)
                path.unlink()
    except Exception as exc:  # a hook that raises would stop gunicorn's master
        log.warning("the Prometheus files of worker %d stay in %s: %s", pid, where, exc)


def sweep_stale(parent: Path, prefix: str) -> None:
    """Remove the folders `<prefix><pid>` in `parent` of gunicorn masters that are gone without their on_exit (killed):
    each holds its workers' allocated files. A pid in use again is left alone."""
    for stale in parent.glob(f"{prefix}*"):
        pid = stale.name.removeprefix(prefix)
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _add_into(archive: Path, exited: Path) -> None:
    """Write archive + exited, summed key by key, to a new file, and put it in the archive's place."""
    totals: dict[str, float] = {}
    for path in (archive, exited):
        if path.exists():
            for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
                totals[key] = totals.get(key, 0.0) + value
    partial = archive.with_name(f".{archive.name}.partial")
    partial.unlink(missing_ok=True)
    merged = PreallocatedDict(str(partial))
    try:
        for key, value in totals.items():
            merged.write_value(key, value, 0.0)
    finally:
        merged.close()
    os.replace(partial, archive)


@contextmanager
def _scrape_lock(where: Path, kind: int) -> Iterator[bool]:
    """An flock between scrapes (shared, waiting) and archiving (exclusive, for ARCHIVE_WAIT seconds at most: gunicorn's
    master must not hang on a stuck scrape). True when held, or when the folder cannot hold one (gone or read-only:
    nothing is archived there either)."""
    try:
        handle = open(where / _SCRAPE_LOCK, "a")
    except OSError:
        yield True
        return
    with handle:
        deadline = time.monotonic() + ARCHIVE_WAIT
        while True:
            try:
                fcntl.flock(handle, kind if kind == fcntl.LOCK_SH else kind | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.01)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
