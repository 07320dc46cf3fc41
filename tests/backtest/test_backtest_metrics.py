"""Backtest metrics: equal to QuantStats' functions on real S&P 500 and NASDAQ daily returns and on edge cases.

The series go through the whole path: parquet -> backtest_daily.sql -> series.py -> metrics.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dashapp.backtest.metrics import (
    METRICS,
    compounded,
    drawdown_periods,
    metrics,
    monthly_returns,
    qs,
    rolling_sharpe,
    rolling_volatility,
    tracking_error,
    yearly_returns,
)
from dashapp.backtest.series import run_series
from dashapp.config import Config
from dashapp.db import Database
from tests.fixtures import write_single


@pytest.fixture(scope="module")
def market_returns() -> pd.DataFrame:
    """Real daily returns 1999-2018 from the arch package: the S&P 500 as strategy, the NASDAQ as benchmark."""
    from arch.data import nasdaq, sp500

    closes = pd.DataFrame({"strategy": sp500.load()["Adj Close"], "benchmark": nasdaq.load()["Adj Close"]})
    returns = closes.pct_change().iloc[1:]
    returns.index = pd.DatetimeIndex(returns.index).as_unit("us")
    return returns


def load(tmp_path, frames: dict[str, pd.DataFrame]):
    """Write the runs' rows as backtest_returns and read them back through the SQL and the cleaning."""
    rows = pd.concat([f.assign(run_id=run_id) for run_id, f in frames.items()], ignore_index=True)
    write_single(tmp_path, "backtest_returns", rows)
    db = Database(Config.from_env(data_dir=tmp_path, cache_dir=tmp_path / "cache"))
    daily = db.run("backtest_daily", run_ids=list(frames), start=None, end=None)
    return {run_id: run_series(daily[daily["run_id"] == run_id], run_id) for run_id in frames}


def daily_rows(returns: pd.Series, benchmark: pd.Series | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"ts": returns.index.date, "strategy_return": returns.to_numpy()})
    if benchmark is not None:
        frame["benchmark_return"] = benchmark.to_numpy()
    return frame


def expected(returns: pd.Series, benchmark: pd.Series | None) -> dict[str, float]:
    """Each metric straight from QuantStats on the pandas series, independently of dashapp."""
    s = qs.stats
    details = s.drawdown_details(s.to_drawdown_series(returns))
    out = {
        "total_return": s.comp(returns),
        "cagr": s.cagr(returns, rf=0.0, periods=252),
        "volatility": s.volatility(returns, periods=252),
        "sharpe": s.sharpe(returns, rf=0.0, periods=252),
        "sortino": s.sortino(returns, rf=0.0, periods=252),
        "calmar": s.calmar(returns),
        "max_drawdown": s.max_drawdown(returns),
        "longest_drawdown_days": details["days"].max(),
        "win_rate": s.win_rate(returns),
        "best_day": s.best(returns),
        "worst_day": s.worst(returns),
        "var_95": s.value_at_risk(returns),
        "cvar_95": s.cvar(returns),
        "skew": s.skew(returns),
        "kurtosis": s.kurtosis(returns),
        "exposure": s.exposure(returns),
    }
    if benchmark is not None:
        greeks = s.greeks(returns, benchmark)
        out |= {"alpha": greeks["alpha"], "beta": greeks["beta"]}
    return out


def test_every_metric_equals_quantstats_on_twenty_years_of_real_prices(tmp_path, market_returns):
    series = load(tmp_path, {"spx": daily_rows(market_returns["strategy"], market_returns["benchmark"])})["spx"]
    assert series.problem is None
    assert series.notes == ["1 gap over 5 days, not filled (longest 7 days after 2001-09-10)"]  # 9/11: markets shut
    assert len(series.returns) == len(market_returns)
    got = metrics(series)
    want = expected(market_returns["strategy"], market_returns["benchmark"])
    assert set(got) == {m.key for m in METRICS}
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert got["mean_exposure"] is None  # no exposure column logged
    # QuantStats' definitions, written out: not a library compared with itself on nonsense.
    r = market_returns["strategy"].to_numpy()
    assert got["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert got["total_return"] == pytest.approx(np.prod(1 + r) - 1, rel=1e-9)
    assert got["cagr"] == pytest.approx(np.prod(1 + r) ** (252 / len(r)) - 1, rel=1e-9)


def test_the_curves_the_charts_draw_equal_quantstats_and_their_definitions(market_returns):
    returns, benchmark = market_returns["strategy"], market_returns["benchmark"]
    pd.testing.assert_series_equal(compounded(returns), qs.stats.compsum(returns), check_names=False)
    years = yearly_returns(returns)
    assert years.loc[2008] == pytest.approx(np.prod(1 + returns["2008"].to_numpy()) - 1, rel=1e-12)
    assert years.tolist() == pytest.approx(monthly_returns(returns)["EOY"].tolist(), rel=1e-9)
    sharpe = qs.stats.rolling_sharpe(returns, rolling_period=126, periods_per_year=252)
    pd.testing.assert_series_equal(rolling_sharpe(returns, 126), sharpe)
    window = returns.iloc[-126:].to_numpy()
    assert rolling_sharpe(returns, 126).iloc[-1] == pytest.approx(window.mean() / window.std(ddof=1) * np.sqrt(252))
    volatility = qs.stats.rolling_volatility(returns, rolling_period=126, periods_per_year=252)
    pd.testing.assert_series_equal(rolling_volatility(returns, 126), volatility)
    gap = (returns - benchmark).to_numpy()
    assert tracking_error(returns, benchmark) == pytest.approx(gap.std(ddof=1) * np.sqrt(252), rel=1e-12)


@pytest.mark.parametrize("years", [(1999, 2003), (2007, 2010), (2016, 2019)])
def test_drawdown_periods_equal_quantstats_drawdown_details(market_returns, years):
    returns = market_returns["strategy"][f"{years[0]}" : f"{years[1] - 1}"]
    ours = drawdown_periods(returns)
    theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(returns))
    theirs = theirs.sort_values("max drawdown", kind="stable").reset_index(drop=True)
    assert len(ours) == len(theirs) > 10
    for column in ("start", "valley", "end"):
        assert ours[column].dt.strftime("%Y-%m-%d").tolist() == theirs[column].tolist()
    assert ours["days"].tolist() == theirs["days"].tolist()
    assert (ours["depth"] * 100).tolist() == pytest.approx(theirs["max drawdown"].tolist(), rel=1e-12)


def test_a_series_whose_only_drawdown_opens_on_its_first_day_has_it():
    returns = pd.Series([-0.1, 0.05, 0.02, 0.2, 0.01], index=pd.date_range("2024-01-01", periods=5))
    periods = drawdown_periods(returns)
    assert periods[["days", "depth"]].values.tolist() == [[3, pytest.approx(-0.1)]]
    assert qs.stats.drawdown_details(qs.stats.to_drawdown_series(returns)).empty  # QuantStats misses it


def days(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n)


def test_edge_cases_give_a_note_or_a_problem_never_an_exception(tmp_path):
    rng = np.random.default_rng(4)
    good = rng.normal(0.0005, 0.01, 30)
    with_holes = good.copy()
    with_holes[[3, 7]] = np.nan
    with_holes[9] = np.inf
    gap_days = days(30).delete(range(10, 20))
    frames = {
        "one_day": daily_rows(pd.Series([0.01], index=days(1))),
        "all_zero": daily_rows(pd.Series(np.zeros(30), index=days(30))),
        "holes": daily_rows(pd.Series(with_holes, index=days(30)), pd.Series(good, index=days(30))),
        "gap": daily_rows(pd.Series(good[:20], index=gap_days)),
        "twice_same": pd.concat([daily_rows(pd.Series(good, index=days(30)))] * 2),
        "twice_differ": pd.concat(
            [daily_rows(pd.Series(good, index=days(30))), daily_rows(pd.Series(good[:1] + 1e-3, index=days(1)))]
        ),
        "prices": daily_rows(pd.Series(np.linspace(100, 110, 30), index=days(30))),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning escapes to a page
        loaded = load(tmp_path, frames)
        results = {run_id: metrics(series) for run_id, series in loaded.items()}

    assert loaded["one_day"].problem == "1 usable daily return: at least 2 needed"
    assert all(v is None for v in results["one_day"].values())
    assert "every return is 0: ratios are undefined" in loaded["all_zero"].notes
    assert results["all_zero"]["total_return"] == 0 and results["all_zero"]["sharpe"] is None
    holes = loaded["holes"]
    assert "3 missing or non-finite returns dropped (first 2024-01-04)" in holes.notes
    clean = pd.Series(with_holes, index=days(30)).replace(np.inf, np.nan).dropna()
    benchmark = pd.Series(good, index=days(30))[clean.index]
    for run_id, returns, bench in (("holes", clean, benchmark), ("twice_same", pd.Series(good, index=days(30)), None)):
        for key, value in expected(returns, bench).items():  # every metric, on the cleaned series
            assert results[run_id][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (run_id, key)
    assert loaded["gap"].notes == ["1 gap over 5 days, not filled (longest 17 days after 2024-01-12)",
                                   "no benchmark logged: alpha and beta are not computed"]  # fmt: skip
    assert results["gap"]["alpha"] is None and results["gap"]["cagr"] is not None
    assert loaded["twice_same"].notes[0] == "30 duplicate rows dropped (identical copies)"
    assert results["twice_same"]["sharpe"] == pytest.approx(qs.stats.sharpe(pd.Series(good, index=days(30))))
    assert loaded["twice_differ"].problem.startswith("1 day logged twice with different values (first 2024-01-01)")
    assert "QuantStats would read the series as prices" in loaded["prices"].problem


def test_the_cli_prints_a_runs_metrics_as_json_and_as_a_table(tmp_path, market_returns, capsys):
    import json

    from dashapp.cli import main

    recent = market_returns["2016":]
    load(tmp_path, {"bt-spx": daily_rows(recent["strategy"], recent["benchmark"])})
    runs = pd.DataFrame(
        {"run_id": ["bt-spx"], "agent": ["ppo"], "agent_version": ["2.1"], "kind": ["backtest"],
         "created_at": pd.to_datetime(["2019-01-02"]).as_unit("us")}
    )  # fmt: skip
    write_single(tmp_path, "backtest_runs", runs)
    assert main(["backtest", "--data", str(tmp_path), "--run", "bt-spx", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    want = expected(recent["strategy"], recent["benchmark"])
    for key in ("sharpe", "sortino", "max_drawdown", "cagr", "volatility", "calmar"):
        assert printed[key] == pytest.approx(want[key], rel=1e-9), key
    assert (printed["run_id"], printed["first_day"], printed["days"]) == ("bt-spx", "2016-01-04", len(recent))

    assert main(["backtest", "--data", str(tmp_path), "--run", "bt-spx"]) == 0
    table = capsys.readouterr().out
    lines = {line.split("  ")[1].strip(): line.split()[-1] for line in table.splitlines() if line.startswith("  ")}
    assert lines["Sharpe"] == f"{want['sharpe']:,.4g}" and lines["Max drawdown"] == f"{want['max_drawdown']:.2%}"
    assert main(["backtest", "--data", str(tmp_path), "--run", "nope"]) == 2
    assert "run: names no known run: nope" in capsys.readouterr().err
