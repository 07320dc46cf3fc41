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
