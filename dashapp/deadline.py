"""Query deadlines: every DuckDB query run for a request stops when the request's time is up.

DuckDB has no statement timeout, so a watchdog thread calls `interrupt()` on the cursor running
the query; an interrupt sent before execution starts is ignored, so it repeats until the query
ends. The budget is per request (set by `begin()` in a Flask before_request hook), not per
query: a panel that runs five queries gets the same 20 s as one that runs one. The layers:
this deadline < gunicorn's `timeout` < any proxy's. Outside a request (the CLI) queries run
without a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import QueryRefused

_DEADLINE: ContextVar[float | None] = ContextVar("dashapp_deadline", default=None)
_BUDGET: ContextVar[float] = ContextVar("dashapp_budget", default=0.0)
INTERRUPT_EVERY = 0.01  # seconds between interrupts until the query notices


def begin(seconds: float) -> None:
    """Start the current request's clock."""
    _DEADLINE.set(time.monotonic() + seconds)
    _BUDGET.set(seconds)


def end() -> None:
    _DEADLINE.set(None)


def remaining() -> float | None:
    """Seconds left for the current request, None outside one."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def too_slow() -> QueryRefused:
    return QueryRefused(
        f"this view needed more than {_BUDGET.get():.3g} s and was stopped: narrow the time range or pick a"
        " coarser bucket",
        reason="deadline",
    )


@contextmanager
def watchdog(cursor) -> Iterator[None]:
    """Interrupt `cursor` when the request's deadline passes; raise QueryRefused if it was."""
    left = remaining()
    if left is None:
        yield
        return
    if left <= 0:
        raise too_slow()
    finished = threading.Event()
    fired = threading.Event()

    def interrupt() -> None:
        if finished.wait(left):
            return
        fired.set()
        while not finished.is_set():
            cursor.interrupt()
            finished.wait(INTERRUPT_EVERY)

    thread = threading.Thread(target=interrupt, name="dashapp-query-watchdog", daemon=True)
    thread.start()
    try:
        yield
    except Exception:
        if fired.is_set():
            raise too_slow() from None
        raise
    finally:
        finished.set()
        thread.join()
