"""The results cache: one flask-caching Cache, created unbound and bound in create_app.

Each key names what its entry depends on (Database._cache_key in db.py): the query or result
name, the normalised parameters and the fingerprint of the files read, so new parquet files
change the key and no TTL guess is needed; a query's SQL text and the code that turns SQL into
cached frames (query_version); and, for results computed in Python, the package's code and the
settings that change results (CODE_VERSION, config.results_fingerprint). Nothing about where
or how the portal is served is in a key: a deploy that changes only pages keeps every query
result, and hosts with other bind, worker or cache settings share one Redis or one cache folder.
FileSystemCache is shared by the gunicorn workers on one host.

The cache is an optimisation, never a dependency: in Redis (DASHAPP_CACHE_REDIS_URL) or in the cache
folder, it sits behind a circuit breaker (breaker.py), so a Redis that fails, or a folder that is full,
read-only or gone, is skipped for a few seconds at a time (a miss, a set dropped) instead of every call
of a page paying a timeout or an error.

A cold entry is computed once: one thread of one host computes it while the others wait and then read it. The
file locks of singleflight.py do that on a host; with Redis, `shared_flight` adds a Redis lock per key, so
several hosts that share the cache also share the work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask_caching import Cache
from flask_caching.backends.filesystemcache import FileSystemCache
from flask_caching.backends.rediscache import RedisCache

from .breaker import Breaker
from .config import Config

log = logging.getLogger(__name__)

cache = Cache()

# A dead Redis costs at most these per call (connect, then each read or write), and only on the one
# call per breaker.RETRY_AFTER that tries it again.
REDIS_CONNECT_TIMEOUT = 0.2
REDIS_TIMEOUT = 0.25
# Written by every /readyz, so readiness says whether the cache takes writes now, whichever worker answers.
PROBE_KEY = "readyz-probe"

_TYPES = {"filesystem": "FileSystemCache", "simple": "SimpleCache", "null": "NullCache"}
# Every key's namespace, in a Redis that other applications may share; the keys themselves carry their versions.
KEY_PREFIX = "dashapp:"


def init_cache(server: Flask, config: Config) -> Cache:
    """Bind the cache to the Flask server with the configured backend."""
    settings = {
        "CACHE_TYPE": _TYPES[config.cache_type],
        "CACHE_DEFAULT_TIMEOUT": config.cache_timeout,
        "CACHE_KEY_PREFIX": KEY_PREFIX,
    }
    if config.cache_redis_url:
        settings |= {
            "CACHE_TYPE": f"{__name__}.{GuardedRedisCache.__name__}",
            "CACHE_REDIS_URL": config.cache_redis_url,
            "CACHE_OPTIONS": _redis_options(),
        }
    elif config.cache_type == "filesystem":
        settings |= {
            "CACHE_TYPE": f"{__name__}.{GuardedFileSystemCache.__name__}",
            "CACHE_DIR": str(config.cache_dir / "results"),
            "CACHE_THRESHOLD": 5000,
        }
    cache.init_app(server, config=settings)
    return cache


def _redis_options() -> dict:
    """Short socket timeouts, and one immediate retry after a connection error (not a timeout): it gets past
    a pooled connection that a Redis restart closed, without a warning."""
    from redis.backoff import NoBackoff  # here: redis is needed only when the cache is Redis
    from redis.exceptions import ConnectionError
    from redis.retry import Retry

    return {
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "socket_timeout": REDIS_TIMEOUT,
        "retry": Retry(NoBackoff(), 1, supported_errors=(ConnectionError,)),
    }


class GuardedRedisCache(RedisCache):
    """flask-caching's RedisCache whose get and set (all dashapp calls) go through a Breaker: a miss or a no-op
    while Redis fails."""

    def __init__(self, host, *args, **kwargs):
        from redis.exceptions import RedisError  # here: redis is needed only when the cache is Redis

        super().__init__(host, *args, **kwargs)
        target = host.connection_pool.connection_kwargs
        where = target.get("path") or f"{target.get('host')}:{target.get('port')}"
        self.breaker = Breaker(f"the Redis cache at {where}", "results cache", (RedisError, OSError))

    def get(self, key):
        return self.breaker.call(None, super().get, key)

    def set(self, key, value, timeout=None):
        return self.breaker.call(False, super().set, key, value, timeout)

    @contextmanager
    def flight(self, key: str, wait: float, hold: float) -> Iterator[bool]:
        """Hold the Redis lock of `key` while the body computes it (True), across hosts; or go on without it
        (False) after `wait` seconds, or at once while Redis fails: at worst, two hosts compute one entry.

        The lock expires after `hold` seconds, so a host that dies while computing holds up the others that
        long at most.
        """
        lock = self._write_client.lock(
            self.key_prefix + "flight:" + key, timeout=hold, sleep=FLIGHT_POLL, blocking_timeout=wait
        )
        held = self.breaker.call(False, lock.acquire)
        try:
            yield held
        finally:
            if held:
                self.breaker.call(None, _release, lock)


FLIGHT_POLL = 0.02  # seconds between two tries of a held Redis lock: a cached entry is read in about a millisecond


def _release(lock) -> None:
    from redis.exceptions import LockError

    try:
        lock.release()
    except LockError:  # it expired while the entry was computed: another host may be computing it too
        log.info("a single-flight lock expired before its entry was computed")


@contextmanager
def shared_flight(cache: Cache, key: str, wait: float, hold: float) -> Iterator[None]:
    """Compute `key` once across the hosts that share the cache: a Redis lock when the cache is Redis (the file
    locks of singleflight.py already cover one host's workers), else nothing."""
    backend = getattr(cache, "cache", cache)  # a Cache, or its backend (as breaker.breaker_of takes)
    if not isinstance(backend, GuardedRedisCache):
        yield
        return
    with backend.flight(key, wait, hold) as held:
        if not held:
            log.info("computing %s without the hosts' lock (Redis failed, or the wait ran out)", key)
        yield


class GuardedFileSystemCache(FileSystemCache):
    """flask-caching's FileSystemCache behind a Breaker: a cache folder that cannot be written (full, read-only,
    removed where it cannot be made again) gives misses and dropped writes, and /readyz says so.

    cachelib catches each error itself and logs it with a traceback, once per call; here reads and writes raise,
    so the breaker sees them and logs once. A write is the probe: a full or read-only folder still reads, so a
    read cannot tell that it works again. A folder removed while serving is made again by the next write.
    """

    def __init__(self, cache_dir, *args, **kwargs):
        self.breaker = Breaker(f"the cache folder {cache_dir}", "results cache", (OSError,))
        try:  # cachelib makes the folder and counts its entries here, after it has set every attribute
            super().__init__(cache_dir, *args, **kwargs)
        except OSError as exc:  # a worker starts on a failing folder, uncached, rather than not at all
            self.breaker.failed(exc)

    def get(self, key):
        return self.breaker.call(None, self._read, key, probe=False)

    def set(self, key, value, timeout=None, mgmt_element=False):
        if mgmt_element:  # cachelib's count of entries, kept from inside a guarded write (or its __init__)
            return self._write(key, value, 0, True)
        return self.breaker.call(False, self._write, key, value, timeout, False)

    @property
    def _file_count(self) -> int:
        return self._read(self._fs_count_file) or 0

    def _read(self, key):
        try:
            with open(self._get_filename(key), "rb") as f:
                expires = struct.unpack("I", f.read(4))[0]
                if expires == 0 or expires >= time.time():
                    return self.serializer.load(f)
        except FileNotFoundError:  # a miss, also in a folder that is gone
            return None
        except (EOFError, struct.error):  # an entry cut short: a miss, and the next write replaces it
            return None
        return None

    def _write(self, key, value, timeout, mgmt_element: bool) -> bool:
        os.makedirs(self._path, exist_ok=True)
        filename = self._get_filename(key)
        overwrite = os.path.isfile(filename)
        fd, partial = tempfile.mkstemp(suffix=self._fs_transaction_suffix, dir=self._path)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(struct.pack("I", self._normalize_timeout(timeout)))
                self.serializer.dump(value, f)
            os.chmod(partial, self._mode)
            os.replace(partial, filename)
        except BaseException:
            with contextlib.suppress(OSError):  # cachelib leaves it behind, filling a full folder further
                os.unlink(partial)
            raise
        if not mgmt_element:
            if not overwrite:
                self._update_count(delta=1)
            self._prune()  # after the write, not before as cachelib does: a folder that takes none is not swept
        return True


def probe_cache(store: Cache) -> None:
    """Write a small entry through the breaker, so /readyz tells whether the results cache takes writes now."""
    store.set(PROBE_KEY, 1, timeout=60)
