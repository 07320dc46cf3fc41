"""The results cache: one flask-caching Cache, created unbound and bound in create_app.

Each key names what its entry depends on (Database._cache_key in db.py): the query or result
name, the normalised parameters and the fingerprint of the files read, so new parquet files
change the key and no TTL guess is needed; a query's SQL text and the code that turns SQL into
cached frames (query_version); and, for results computed in Python, the package's code and the
settings that change results (CODE_VERSION, config.results_fingerprint). Nothing about where
or how the portal is served is in a key: a deploy that changes only pages keeps every query
result, and hosts with other bind, worker or cache settings share one Redis or one cache folder.
FileSystemCache is shared by the gunicorn workers on one host.

A cold entry is computed once: one thread of one host computes it while the others wait and then read it. The
file locks of singleflight.py do that on a host; with Redis, `shared_flight` adds a Redis lock per key, so
several hosts that share the cache also share the work.

With DASHAPP_CACHE_REDIS_URL the cache lives in Redis behind a circuit breaker: the cache is an
optimisation, never a dependency, so a Redis that fails is skipped for a few seconds at a time
(a miss, a set dropped) instead of every call of a page paying a timeout.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask_caching import Cache
from flask_caching.backends.rediscache import RedisCache

from .config import Config

log = logging.getLogger(__name__)

cache = Cache()

# A dead Redis costs at most these per call (connect, then each read or write), and only on the one
# call per RETRY_AFTER that tries it again (Breaker).
REDIS_CONNECT_TIMEOUT = 0.2
REDIS_TIMEOUT = 0.25
RETRY_AFTER = 3.0

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
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        settings |= {"CACHE_DIR": str(config.cache_dir / "results"), "CACHE_THRESHOLD": 5000}
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


class Breaker:
    """Skips a failing service for RETRY_AFTER seconds at a time; one log line when it fails, one when it is back.

    Per process, shared by its threads. After a failure every call gets its default at once, except
    one call per RETRY_AFTER that tries the service again (the others keep skipping while it runs).
    """

    def __init__(self, name: str, errors: tuple[type[BaseException], ...]):
        self.name = name
        self.errors = errors
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0

    def call(self, default, function, *args):
        mode = self._mode()
        if mode == "skip":
            return default
        try:
            result = function(*args)
        except self.errors as exc:
            self._failed(exc)
            return default
        if mode == "trial":  # not a call that was under way when the service failed
            self._recovered()
        return result

    def _mode(self) -> str:
        """normal (the service works), trial (the one call that tries it again) or skip."""
        with self._lock:
            now = time.monotonic()
            if not self._down:
                return "normal"
            if now < self._retry_at:
                return "skip"
            self._retry_at = now + RETRY_AFTER  # the other calls skip while this one tries
            return "trial"

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + RETRY_AFTER
            if self._down:
                return
            self._down = True
        log.warning(
            "%s failed in process %d (%s: %s); serving uncached, trying again every %.0f s",
            self.name,
            os.getpid(),
            type(exc).__name__,
            exc,
            RETRY_AFTER,
        )

    def _recovered(self) -> None:
        with self._lock:
            self._down = False
        log.warning("%s is back in process %d; caching again", self.name, os.getpid())


class GuardedRedisCache(RedisCache):
    """flask-caching's RedisCache whose get and set (all dashapp calls) go through a Breaker: a miss or a no-op
    while Redis fails."""

    def __init__(self, host, *args, **kwargs):
        from redis.exceptions import RedisError  # here: redis is needed only when the cache is Redis

        super().__init__(host, *args, **kwargs)
        target = host.connection_pool.connection_kwargs
        where = target.get("path") or f"{target.get('host')}:{target.get('port')}"
        self.breaker = Breaker(f"the Redis cache at {where}", (RedisError, OSError))

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
    backend = getattr(cache, "cache", None)
    if not isinstance(backend, GuardedRedisCache):
        yield
        return
    with backend.flight(key, wait, hold) as held:
        if not held:
            log.info("computing %s without the hosts' lock (Redis failed, or the wait ran out)", key)
        yield
