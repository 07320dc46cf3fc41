"""A run's daily series as QuantStats gets it: cleaned in the open, with a note for everything done.

backtest_daily.sql returns the rows as logged. QuantStats would silently take an all-non-negative
series with a value above 1 for prices, and its statistics skip NaN without saying so; here every
duplicate, missing or non-finite value and every gap is counted and shown, and a series that
cannot give honest numbers gets a `problem` instead of metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Two logged days further apart than this (calendar days) are a gap: a long weekend is 4.
GAP_DAYS = 5


@dataclass
class RunSeries:
    """One run's cleaned daily returns, indexed by day."""

    run_id: str
    returns: pd.Series
    benchmark: pd.Series | None = None  # on the days both are finite; None when the run logs none
    exposure: pd.Series | None = None
    notes: list[str] = field(default_factory=list)  # what the cleaning found and did
    problem: str | None = None  # why no metric can be computed; None when they can


def run_series(rows: pd.DataFrame, run_id: str) -> RunSeries:
    """Clean one run's rows from backtest_daily.sql (columns ts, strategy_return, benchmark_return, exposure)."""
    empty = pd.Series(dtype=float, index=pd.DatetimeIndex([], name="ts"))
    if rows.empty:
        return RunSeries(run_id, empty, problem="no daily returns in this period")
    rows = rows.assign(ts=pd.to_datetime(rows["ts"])).sort_values("ts", kind="stable")
    notes: list[str] = []
    values = ["strategy_return", "benchmark_return", "exposure"]

    copies = rows[rows.duplicated("ts", keep=False)]
    if not copies.empty:
        differing = copies.groupby("ts").filter(lambda day: len(day[values].drop_duplicates()) > 1)["ts"].unique()
        if len(differing):
            first = pd.Timestamp(differing[0]).date()
            problem = f"{_count(len(differing), 'day')} logged twice with different values (first {first}): fix the log"
            return RunSeries(run_id, empty, problem=problem)
        notes.append(f"{_count(len(rows) - rows['ts'].nunique(), 'duplicate row')} dropped (identical copies)")
        rows = rows.drop_duplicates("ts")

    strategy = rows.set_index("ts")["strategy_return"].astype(float)
    finite = np.isfinite(strategy.to_numpy())
    if not finite.all():
        first = strategy.index[~finite][0].date()
        notes.append(f"{_count((~finite).sum(), 'missing or non-finite return')} dropped (first {first})")
        strategy = strategy[finite]
    strategy.index.name = "ts"

    gaps = np.diff(strategy.index.to_numpy()).astype("timedelta64[D]").astype(int)
    long_gaps = np.flatnonzero(gaps > GAP_DAYS)
    if len(long_gaps):
        worst = long_gaps[np.argmax(gaps[long_gaps])]
        after = strategy.index[worst].date()
        longest = f"longest {gaps[worst]} days after {after}"
        notes.append(f"{_count(len(long_gaps), 'gap')} over {GAP_DAYS} days, not filled ({longest})")

    benchmark = _benchmark(rows, strategy.index, notes)
    exposure = rows.set_index("ts")["exposure"].astype(float).reindex(strategy.index).dropna()
    series = RunSeries(run_id, strategy, benchmark, exposure if len(exposure) else None, notes)
    if len(strategy) < 2:
        series.problem = f"{_count(len(strategy), 'usable daily return')}: at least 2 needed"
    elif strategy.min() >= 0 and strategy.max() > 1:
        series.problem = "every return is ≥ 0 and one is above 100%: QuantStats would read the series as prices"
    elif (strategy == 0).all():
        notes.append("every return is 0: ratios are undefined")
    return series


def _benchmark(rows: pd.DataFrame, days: pd.DatetimeIndex, notes: list[str]) -> pd.Series | None:
    benchmark = rows.set_index("ts")["benchmark_return"].astype(float).reindex(days)
    finite = np.isfinite(benchmark.to_numpy())
    if not finite.any():
        notes.append("no benchmark logged: alpha and beta are not computed")
        return None
    if not finite.all():
        notes.append(
            f"benchmark missing or non-finite on {_count((~finite).sum(), 'day')}: compared on the other {finite.sum()}"
        )
    return benchmark[finite]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
