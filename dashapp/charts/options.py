"""What a page offers in its pickers: the symbols and model versions logged, the runs and what a run traded.

Read through the same cached queries as the charts, so that the pages need nothing below the charts.
"""

from __future__ import annotations

import pandas as pd

from ..backtest.runs import known_runs
from ..db import Database
from ..errors import DataUnavailable
from .backtests import selected_runs


def filter_options(db: Database) -> tuple[list[str], list[str]]:
    """The symbols and model versions present in predictions, for the global filters; none while it is unavailable."""
    try:
        frame = db.run("meta_filter_options")
    except DataUnavailable:
        return [], []
    symbols = frame.loc[frame["kind"] == "symbol", "value"].tolist()
    versions = frame.loc[frame["kind"] == "model_version", "value"].tolist()
    return symbols, versions


def runs(db: Database) -> pd.DataFrame:
    """Every run, newest first: run_id, agent, agent_version, kind, first_day, last_day and days of returns."""
    return known_runs(db)


def default_runs(db: Database) -> list[str]:
    """The runs the backtest charts show when none is chosen: each agent version's newest backtest."""
    return selected_runs(db, {"run": []})["run_id"].tolist()


def traded_symbols(db: Database, run_id: str) -> list[str]:
    """The symbols a run traded, most traded first."""
    return db.run("backtest_trade_symbols", run_id=run_id)["symbol"].tolist()
