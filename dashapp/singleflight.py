"""One computation per cache key at a time, across the threads and gunicorn workers of one host.

When a page with five cold panels loads, every panel misses the same cached join at once. Without
this, each computes it and the five share two cores; with it, one computes and the others wait,
then read its result (the "dogpile" or "stampede" guard). Locks are flock()s on a fixed set of
files in the cache folder, so they vanish with a crashed worker and the folder never grows. A cache
folder whose lock files cannot be opened (read-only, gone) is skipped by a breaker: each computes
for itself, as without this.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .breaker import Breaker

log = logging.getLogger(__name__)

STRIPES = 256  # lock files; two keys share one with probability 1/256, which only serialises them
WAIT_SECONDS = 30.0  # after this, compute anyway rather than fail the request
POLL_SECONDS = 0.02
_BREAKERS: dict[Path, Breaker] = {}


def lock_breaker(folder: Path) -> Breaker:
    """The breaker of the lock files in `folder` (one per folder and process)."""
    if folder not in _BREAKERS:
        _BREAKERS[folder] = Breaker(
            f"the single-flight lock folder {folder}",
            "single-flight locks",
            (OSError,),
            consequence="computing without waiting for each other",
            resumed="waiting for each other again",
        )
    return _BREAKERS[folder]


@contextmanager
def single_flight(folder: Path, key: str, wait: float | None = None) -> Iterator[None]:
    """Hold the lock of `key` while the body runs; wait for whoever holds it first (WAIT_SECONDS at most).

    Keys share lock files, so a caller must not take a second lock while holding one: it could be
    its own stripe. Database takes them for queries only, which never nest.
    """
    wait = WAIT_SECONDS if wait is None else wait
    stripe = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % STRIPES
    handle = lock_breaker(folder).call(None, _open_lock, folder / f"{stripe:03d}.lock")
    if handle is None:  # the folder fails: computed without the lock, as if nobody else wanted it
        yield
        return
    with handle, _held(handle, wait) as held:
        if not held:
            log.warning("waited %.0f s for %s: computing it anyway", wait, key)
        yield


def probe_locks(folder: Path) -> None:
    """Open one lock file through the breaker, so /readyz tells whether single flight works now."""
    handle = lock_breaker(folder).call(None, _open_lock, folder / f"{0:03d}.lock")
    if handle is not None:
        handle.close()


def _open_lock(path: Path) -> IO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a")


@contextmanager
def file_lock(path: Path, wait: float) -> Iterator[bool]:
    """Hold an flock() on `path` (True), or give up after `wait` seconds (False); it goes with its process."""
    with open(path, "a") as handle, _held(handle, wait) as held:  # each open() is its own flock owner
        yield held


@contextmanager
def _held(handle: IO, wait: float) -> Iterator[bool]:
    """Hold an flock() on an open file (True), or give up after `wait` seconds (False)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                yield False
                return
            time.sleep(POLL_SECONDS)
    try:
        yield True
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
