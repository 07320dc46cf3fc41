"""A circuit breaker for the parts the portal serves without: the results cache (in Redis or in the cache folder),
the single-flight locks and the Prometheus files.

Each is an optimisation, never a dependency. While one fails, its calls get a default at once (a miss, a dropped
write, a count kept in memory) instead of each paying an error or a timeout; one log line says so when it fails and
one when it is back, and /readyz lists it as degraded meanwhile (degraded()). A breaker is per process, and per
folder where there may be several in one process (tests).
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)

# After a failure, one call per RETRY_AFTER tries the part again; the others skip it.
RETRY_AFTER = 3.0


class Breaker:
    """Skips a failing part for RETRY_AFTER seconds at a time; one log line when it fails, one when it is back.

    Per process, shared by its threads. After a failure every call gets its default at once, except one call
    per RETRY_AFTER that tries the part again (the others keep skipping while it runs). A call made with
    `probe=False` never is that one: a read of a full or read-only folder succeeds, so only a write can tell
    that the folder works again.

    `name` is for the log (it may name a host or a folder); `component` is what /readyz calls it, so it names
    no file and no host.
    """

    def __init__(
        self,
        name: str,
        component: str,
        errors: tuple[type[BaseException], ...],
        consequence: str = "serving uncached",
        resumed: str = "caching again",
    ):
        self.name = name
        self.component = component
        self.errors = errors
        self.consequence = consequence
        self.resumed = resumed
        self._lock = threading.Lock()
        self._down = False
        self._reason: str | None = None
        self._retry_at = 0.0

    @property
    def down(self) -> bool:
        return self._down

    @property
    def reason(self) -> str | None:
        """Why it failed, without paths or addresses (for /readyz); None while it works."""
        return self._reason if self._down else None

    def call(self, default, function, *args, probe: bool = True):
        mode = self._mode(probe)
        if mode == "skip":
            return default
        try:
            result = function(*args)
        except self.errors as exc:
            self.failed(exc)
            return default
        if mode == "trial":  # not a call that was under way when the part failed
            self._recovered()
        return result

    def _mode(self, probe: bool) -> str:
        """normal (the part works), trial (the one call that tries it again) or skip."""
        with self._lock:
            now = time.monotonic()
            if not self._down:
                return "normal"
            if now < self._retry_at or not probe:
                return "skip"
            self._retry_at = now + RETRY_AFTER  # the other calls skip while this one tries
            return "trial"

    def failed(self, exc: BaseException) -> None:
        """Record a failure: skip the part for RETRY_AFTER; log it if it worked until now."""
        with self._lock:
            self._retry_at = time.monotonic() + RETRY_AFTER
            self._reason = _public(exc)
            if self._down:
                return
            self._down = True
        log.warning(
            "%s failed in process %d (%s: %s); %s, trying again every %.0f s",
            self.name,
            os.getpid(),
            type(exc).__name__,
            exc,
            self.consequence,
            RETRY_AFTER,
        )

    def _recovered(self) -> None:
        with self._lock:
            self._down = False
        log.warning("%s is back in process %d; %s", self.name, os.getpid(), self.resumed)


def degraded(breakers) -> dict[str, str]:
    """What the given breakers skip now and why: {component: reason}, for /readyz (None entries are ignored)."""
    return {b.component: b.reason for b in breakers if b is not None and b.down and b.reason}


def breaker_of(store) -> Breaker | None:
    """The breaker of a cache (flask-caching's Cache, or a backend), if it has one."""
    backend = getattr(store, "cache", store)  # outside an app context, flask-caching's Cache has no backend
    found = getattr(backend, "breaker", None)
    return found if isinstance(found, Breaker) else None


def cache_skipped(store) -> bool:
    """Whether a cache is skipped by its breaker now, and so keeps nothing."""
    found = breaker_of(store)
    return found is not None and found.down


def _public(exc: BaseException) -> str:
    """The kind of failure without its details: an OSError's text names its file, a Redis error its host."""
    strerror = getattr(exc, "strerror", None)
    return f"{type(exc).__name__}: {strerror}" if isinstance(exc, OSError) and strerror else type(exc).__name__
