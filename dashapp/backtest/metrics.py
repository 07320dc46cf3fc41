"""Backtest metrics with QuantStats' own functions and defaults (252 periods a year, risk-free rate 0).

Each metric is the named quantstats.stats function applied to a cleaned RunSeries (series.py). The
one exception is the drawdown periods: quantstats.stats.drawdown_details takes ~0.2 s per ten-year
run (a pandas slice and an outlier quantile per period), so `drawdown_periods` computes the same
start, valley, end, days and depth with numpy; the tests hold it equal to QuantStats' frame.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

os.environ.setdefault("MPLBACKEND", "Agg")  # QuantStats imports matplotlib; never a GUI backend here
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

import quantstats as qs  # noqa: E402  (after the backend is chosen)

from .series import RunSeries  # noqa: E402


@contextmanager
def quiet() -> Iterator[None]:
    """Run QuantStats without its numpy and pandas warnings reaching a page: a zero denominator
    becomes NaN here, and None where it is shown."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # percent | ratio | days
    compute: Callable[[RunSeries], float] | None  # None: from qs.stats.greeks, called once per run in metrics()
    needs_benchmark: bool = False


def _paired(series: RunSeries) -> tuple[pd.Series, pd.Series]:
    """The run and its benchmark on the days both have, by position.

    greeks() compares the two series' dates as Python sets before it pairs them (~20 ms a ten-year
    run); on already-paired series with a plain index it skips that, and the numbers are the same.
    """
    returns = series.returns.loc[series.benchmark.index]
    return returns.reset_index(drop=True), series.benchmark.reset_index(drop=True)


def _longest_drawdown_days(series: RunSeries) -> float:
    periods = drawdown_periods(series.returns)
    return float(periods["days"].max()) if len(periods) else 0.0


def _mean_exposure(series: RunSeries) -> float:
    return float(series.exposure.mean()) if series.exposure is not None else float("nan")


METRICS: tuple[Metric, ...] = (
    Metric("total_return", "Total return", "percent", lambda s: qs.stats.comp(s.returns)),
    Metric("cagr", "CAGR", "percent", lambda s: qs.stats.cagr(s.returns)),
    Metric("volatility", "Volatility (ann.)", "percent", lambda s: qs.stats.volatility(s.returns)),
    Metric("sharpe", "Sharpe", "ratio", lambda s: qs.stats.sharpe(s.returns)),
    Metric("sortino", "Sortino", "ratio", lambda s: qs.stats.sortino(s.returns)),
    Metric("calmar", "Calmar", "ratio", lambda s: qs.stats.calmar(s.returns)),
    Metric("max_drawdown", "Max drawdown", "percent", lambda s: qs.stats.max_drawdown(s.returns)),
    Metric("longest_drawdown_days", "Longest drawdown (days)", "days", _longest_drawdown_days),
    Metric("win_rate", "Win rate (days)", "percent", lambda s: qs.stats.win_rate(s.returns)),
    Metric("best_day", "Best day", "percent", lambda s: qs.stats.best(s.returns)),
    Metric("worst_day", "Worst day", "percent", lambda s: qs.stats.worst(s.returns)),
    Metric("var_95", "Daily VaR (95%)", "percent", lambda s: qs.stats.value_at_risk(s.returns, confidence=0.95)),
    Metric("cvar_95", "Daily CVaR (95%)", "percent", lambda s: qs.stats.cvar(s.returns, confidence=0.95)),
    Metric("skew", "Skew", "ratio", lambda s: qs.stats.skew(s.returns)),
    Metric("kurtosis", "Kurtosis", "ratio", lambda s: qs.stats.kurtosis(s.returns)),
    # One qs.stats.greeks call per run gives both (metrics()): each call costs ~20 ms.
    Metric("alpha", "Alpha (ann.)", "ratio", None, True),
    Metric("beta", "Beta", "ratio", None, True),
    Metric("exposure", "Time in market", "percent", lambda s: qs.stats.exposure(s.returns)),
    Metric("mean_exposure", "Mean gross exposure", "percent", _mean_exposure),
)


def metrics(series: RunSeries) -> dict[str, float | None]:
    """Every metric of one run; None where it is undefined (no benchmark, a zero denominator, a problem)."""
    out: dict[str, float | None] = {}
    greeks = None
    for metric in METRICS:
        if series.problem or (metric.needs_benchmark and series.benchmark is None):
            out[metric.key] = None
            continue
        with quiet():
            if metric.compute is None:
                greeks = qs.stats.greeks(*_paired(series)) if greeks is None else greeks
                value = float(greeks[metric.key])
            else:
                value = float(metric.compute(series))
        out[metric.key] = value if np.isfinite(value) else None
    return out


PERIODS_PER_YEAR = 252  # QuantStats' default: trading days


def compounded(returns: pd.Series) -> pd.Series:
    """The cumulative compounded return up to each day: (1 + r).cumprod() - 1, QuantStats' compsum."""
    return (1 + returns).cumprod() - 1


def yearly_returns(returns: pd.Series) -> pd.Series:
    """The compounded return per calendar year, indexed by the year."""
    return (1 + returns).groupby(returns.index.year).prod() - 1


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """QuantStats' compounded monthly returns table: a row per year, a column per month and EOY for the year."""
    with quiet():
        return qs.stats.monthly_returns(returns, eoy=True, compounded=True)


def rolling_sharpe(returns: pd.Series, window: int) -> pd.Series:
    """QuantStats' rolling Sharpe over `window` trading days, annualised over 252."""
    with quiet():
        return qs.stats.rolling_sharpe(returns, rolling_period=window, periods_per_year=PERIODS_PER_YEAR)


def rolling_volatility(returns: pd.Series, window: int) -> pd.Series:
    """QuantStats' rolling annualised volatility over `window` trading days."""
    with quiet():
        return qs.stats.rolling_volatility(returns, rolling_period=window, periods_per_year=PERIODS_PER_YEAR)


def tracking_error(returns: pd.Series, benchmark: pd.Series) -> float:
    """The annualised standard deviation of the daily difference (sample, ddof 1), on days both series have."""
    return float((returns - benchmark).std(ddof=1) * np.sqrt(PERIODS_PER_YEAR))


def drawdown_series(returns: pd.Series) -> pd.Series:
    """Each day's drawdown from the running peak (QuantStats' to_drawdown_series): 0 or negative."""
    with quiet():
        return qs.stats.to_drawdown_series(returns)


def drawdown_periods(returns: pd.Series) -> pd.DataFrame:
    """Every drawdown period as quantstats.stats.drawdown_details defines it, worst first.

    Columns: start, valley, end (last day under water; the last day of the series if not
    recovered), days (calendar days, start and end included) and depth (a fraction, negative).
    """
    columns = ["start", "valley", "end", "days", "depth"]
    if returns.empty:
        return pd.DataFrame(columns=columns)
    drawdown = drawdown_series(returns)
    under = drawdown.to_numpy() != 0
    starts = list(np.flatnonzero(under & np.concatenate([[False], ~under[:-1]])))  # first day under water
    ends = list(np.flatnonzero(under & np.concatenate([~under[1:], [False]])))  # last day under water
    # As QuantStats: a series that opens under water starts there; one that closes under water ends
    # there. Unlike QuantStats, a series whose only drawdown opens on its first day has that one
    # (drawdown_details finds no start and reports no drawdown at all).
    if ends and (not starts or starts[0] > ends[0]):
        starts.insert(0, 0)
    if starts and (not ends or starts[-1] > ends[-1]):
        ends.append(len(under) - 1)
    if not starts:
        return pd.DataFrame(columns=columns)
    values, days = drawdown.to_numpy(), drawdown.index
    rows = []
    for start, end in zip(starts, ends, strict=True):
        valley = start + int(np.argmin(values[start : end + 1]))
        length = (days[end] - days[start]).days + 1
        rows.append((days[start], days[valley], days[end], length, values[valley]))
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("depth", kind="stable").reset_index(drop=True)
