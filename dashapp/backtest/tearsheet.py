"""QuantStats' full HTML tearsheet for one run, built offline from our parquet and cached."""

from __future__ import annotations

import tempfile
import threading
from datetime import date
from pathlib import Path

from ..db import Database
from ..errors import BadParameter
from .metrics import qs, quiet
from .runs import TABLES, check_runs, load_series

# matplotlib's pyplot, which the report draws with, is not thread-safe: one report at a time per worker.
_DRAWING = threading.Lock()


def tearsheet_html(db: Database, run_id: str, start: date | None = None, end: date | None = None) -> str:
    """The run's report over [start, end), with its logged benchmark when it has one (memoized)."""
    check_runs(db, [run_id])
    key = {"run_id": run_id, "start": start, "end": end}
    return db.memoize("backtest_tearsheet", key, TABLES, lambda: _build(db, run_id, start, end))


def _build(db: Database, run_id: str, start: date | None, end: date | None) -> str:
    series = load_series(db, [run_id], start, end)[run_id]
    if series.problem:
        raise BadParameter("run", f"{run_id}: {series.problem}")
    # A Series, never a ticker: offline, QuantStats turns a ticker into zeros without a word.
    benchmark = None if series.benchmark is None else series.benchmark.rename("benchmark")
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
