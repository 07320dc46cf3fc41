"""queries/backtest_*.sql: the run list with each run's span, and runs' daily rows over a period."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from tests.fixtures import write_single


@pytest.fixture
def backtests(db, data_dir):
    write_single(
        data_dir,
        "backtest_runs",
        pd.DataFrame(
            {
                "run_id": ["bt-a", "paper-a", "bt-empty"],
                "agent": ["ppo", "ppo", "dqn"],
                "agent_version": ["2.0", "2.0", "1.0"],
                "kind": ["backtest", "paper", "backtest"],
                "created_at": pd.to_datetime(["2024-01-10", "2024-02-01", "2024-03-01"]).as_unit("us"),
            }
        ),
    )
    write_single(
        data_dir,
        "backtest_returns",
        pd.DataFrame(
            {
                "run_id": ["bt-a"] * 4 + ["paper-a"] * 2,
                "ts": [date(2024, 1, d) for d in (2, 3, 4, 5)] + [date(2024, 1, 4), date(2024, 1, 5)],
                "strategy_return": [0.01, -0.02, 0.03, 0.0, 0.011, 0.002],
                "benchmark_return": [0.005, None, 0.01, 0.0, 0.01, 0.0],
            }
        ),
    )
    return db


def test_runs_are_listed_newest_first_with_the_span_of_their_returns(backtests):
    runs = backtests.run("backtest_runs")
    assert runs["run_id"].tolist() == ["bt-empty", "paper-a", "bt-a"]
    assert runs["days"].tolist() == [0, 2, 4]
    assert runs.loc[2, ["first_day", "last_day"]].astype(str).tolist() == ["2024-01-02", "2024-01-05"]
    assert runs["params"].isna().all()  # optional column absent: NULL
    assert pd.isna(runs.loc[0, "first_day"])


def test_daily_rows_of_the_given_runs_in_start_inclusive_end_exclusive(backtests):
    daily = backtests.run(
        "backtest_daily", run_ids=["bt-a", "paper-a"], start=datetime(2024, 1, 3), end=date(2024, 1, 5)
    )
    assert daily[["run_id", "strategy_return"]].values.tolist() == [["bt-a", -0.02], ["bt-a", 0.03], ["paper-a", 0.011]]
    assert daily["exposure"].isna().all()  # optional column absent: NULL
    whole = backtests.run("backtest_daily", run_ids=["bt-a"], start=None, end=None)
    assert len(whole) == 4 and pd.isna(whole.loc[1, "benchmark_return"])


def test_daily_rows_of_an_unknown_run_are_empty(backtests):
    assert backtests.run("backtest_daily", run_ids=["nope"], start=None, end=None).empty


@pytest.fixture
def trading(db, data_dir):
    write_single(
        data_dir,
        "trades",
        pd.DataFrame(
            {
                "run_id": ["bt-a"] * 5 + ["bt-b"],
                "ts": pd.to_datetime(
                    [
                        "2024-01-02 20:00",
                        "2024-01-03 20:00",
                        "2024-01-04 20:00",
                        "2024-01-05 20:00",
                        "2024-01-03 20:00",
                        "2024-01-02 20:00",
                    ]
                ).as_unit("us"),  # fmt: skip
                "symbol": ["AAPL", "AAPL", "AAPL", "AAPL", "MSFT", "AAPL"],
                "action": ["buy", "hold", "sell", "buy", "buy", "sell"],
                "quantity": [10, 0, 4, 2, 5, 1],
                "price": [100.0, 101.0, 102.0, 99.0, 300.0, 100.0],
            }
        ),
    )
    write_single(
        data_dir,
        "market",
        pd.DataFrame({"ts": [date(2024, 1, d) for d in (2, 3, 4, 5)], "symbol": "AAPL", "close": [1.0, 2.0, 3.0, 4.0]}),
    )
    return db


def test_trades_carry_the_position_from_the_start_of_the_run_into_the_period(trading):
    frame = trading.run("backtest_trades", run_id="bt-a", symbol="AAPL", start=date(2024, 1, 3), end=date(2024, 1, 5))
    assert frame[["action", "quantity", "position"]].values.tolist() == [["hold", 0, 10], ["sell", 4, 6]]
    whole = trading.run("backtest_trades", run_id="bt-a", symbol="AAPL", start=None, end=None)
    assert whole["position"].tolist() == [10, 10, 6, 8]


def test_trade_symbols_are_ordered_by_buys_and_sells(trading):
    frame = trading.run("backtest_trade_symbols", run_id="bt-a")
    assert frame.values.tolist() == [["AAPL", 3], ["MSFT", 1]]


def test_market_closes_of_one_symbol_in_a_period(trading):
    frame = trading.run("market_closes", symbol="AAPL", start=date(2024, 1, 3), end=None)
    assert frame["close"].tolist() == [2.0, 3.0, 4.0]
    assert trading.run("market_closes", symbol="TSLA", start=None, end=None).empty
