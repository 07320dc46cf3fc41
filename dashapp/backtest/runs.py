"""Runs and their cleaned daily series from the database: the data side of the Backtests page and CLI."""

from __future__ import annotations

from datetime import date

import pandas as pd

from ..db import Database
from ..errors import BadParameter
from .metrics import metrics
from .series import RunSeries, run_series

TABLES = ("backtest_runs", "backtest_returns")


def known_runs(db: Database) -> pd.DataFrame:
    """Every run, newest first, with the span of its returns (backtest_runs.sql)."""
    return db.run("backtest_runs")


def check_runs(db: Database, run_ids: list[str], param: str = "run") -> pd.DataFrame:
    """The rows of the given runs in the order given; an unknown id is a BadParameter naming it."""
    runs = known_runs(db).set_index("run_id")
    unknown = [r for r in run_ids if r not in runs.index]
    if unknown:
        raise BadParameter(param, f"names no known run: {', '.join(unknown)}")
    return runs.loc[run_ids].reset_index()


def load_series(db: Database, run_ids: list[str], start: date | None, end: date | None) -> dict[str, RunSeries]:
    """Each run's cleaned daily series in [start, end) from one query (backtest_daily.sql), memoized:
    every panel of the page starts from the same series."""
    key = {"run_ids": run_ids, "start": start, "end": end}
    return db.memoize("backtest_series", key, TABLES, lambda: _load_series(db, run_ids, start, end))


def _load_series(db: Database, run_ids: list[str], start: date | None, end: date | None) -> dict[str, RunSeries]:
    daily = db.run("backtest_daily", run_ids=run_ids, start=start, end=end)
    by_run = dict(tuple(daily.groupby("run_id", sort=False)))
    return {run_id: run_series(by_run.get(run_id, daily.iloc[0:0]), run_id) for run_id in run_ids}


def run_metrics(db: Database, run_ids: list[str], start: date | None = None, end: date | None = None) -> list[dict]:
    """Per run: its identity, span, metrics, cleaning notes and problem (memoized on the data's fingerprint)."""
    key = {"run_ids": run_ids, "start": start, "end": end}
    return db.memoize("backtest_metrics", key, TABLES, lambda: _run_metrics(db, run_ids, start, end))


def _run_metrics(db: Database, run_ids: list[str], start: date | None, end: date | None) -> list[dict]:
    runs = check_runs(db, run_ids)
    series = load_series(db, run_ids, start, end)
    out = []
    for run in runs.itertuples():
        s = series[run.run_id]
        out.append(
            {
                "run_id": run.run_id,
                "agent": run.agent,
                "agent_version": run.agent_version,
                "kind": run.kind,
                "first_day": s.returns.index[0].date().isoformat() if len(s.returns) else None,
                "last_day": s.returns.index[-1].date().isoformat() if len(s.returns) else None,
                "days": len(s.returns),
                **metrics(s),
                "notes": s.notes,
                "problem": s.problem,
            }
        )
    return out


def agent_version_starts(db: Database, run_ids: list[str], start: date | None, end: date | None) -> pd.DataFrame:
    """The day each agent version of these runs began paper trading, when it falls in [start, end): agent,
    agent_version, first_day and the paper run (rollout_agent_versions.sql says why paper, not backtests)."""
    return db.run("rollout_agent_versions", run_ids=run_ids, start=start, end=end)
