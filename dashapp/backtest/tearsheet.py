"""QuantStats' full HTML tearsheet for one run, built offline from our parquet and cached."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

from ..db import Database
from ..errors import BadParameter
from .metrics import qs, quiet
from .runs import TABLES, check_runs, load_series

# What building a report goes through, in order; `progress` hears each as it starts (a cached report: the first only).
STAGES = ("finding the run", "reading its daily returns", "QuantStats computing metrics and drawing charts")
Progress = Callable[[str], None]


def no_progress(stage: str) -> None:
    """A Progress that hears nothing (the API, the CLI)."""


# matplotlib's pyplot, which the report draws with, is not thread-safe: one report at a time per worker.
_DRAWING = threading.Lock()


def _new_drawing_lock() -> None:
    global _DRAWING
    _DRAWING = threading.Lock()


# A background job without Celery is a process forked from a worker whose other threads may hold the lock: they
# are not in the child, which would wait for ever. The child starts with a free lock.
os.register_at_fork(after_in_child=_new_drawing_lock)


def tearsheet_html(
    db: Database, run_id: str, start: date | None = None, end: date | None = None, progress: Progress = no_progress
) -> str:
    """The run's report over [start, end), with its logged benchmark when it has one (memoized)."""
    progress(STAGES[0])
    check_runs(db, [run_id])
    key = {"run_id": run_id, "start": start, "end": end}
    return db.memoize("backtest_tearsheet", key, TABLES, lambda: _build(db, run_id, start, end, progress))


def _build(db: Database, run_id: str, start: date | None, end: date | None, progress: Progress) -> str:
    progress(STAGES[1])
    series = load_series(db, [run_id], start, end)[run_id]
    if series.problem:
        raise BadParameter("run", f"{run_id}: {series.problem}")
    # A Series, never a ticker: offline, QuantStats turns a ticker into zeros without a word.
    benchmark = None if series.benchmark is None else series.benchmark.rename("benchmark")
    progress(STAGES[2])
    with _DRAWING, tempfile.TemporaryDirectory(prefix="dashapp-tearsheet-") as folder:
        output = Path(folder) / "report.html"
        with quiet():
            qs.reports.html(
                series.returns.rename(run_id),
                benchmark=benchmark,
                rf=0.0,
                periods_per_year=252,
                title=f"{run_id} tearsheet",
                output=str(output),
                match_dates=True,
            )
        return output.read_text(encoding="utf-8")
