"""The rollout queries on the fixture tables, against the same parquet read with pandas: rollout_model_versions
(each version's first prediction), rollout_training_runs (each run's end) and rollout_agent_versions (each agent
version's first paper-trading day). Their edge cases are in tests/sql/<query>/."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from tests.fixtures import DAY1, DAY4

EVERY_VERSION: list[str] = []


def test_each_version_first_served_at_its_first_prediction_over_the_whole_log(db, data_dir):
    log = pd.read_parquet(data_dir / "predictions")
    first = log.groupby("model_version")["ts"].min().sort_values()
    # v1 was serving when the log began (its first prediction is the log's first): no rollout.
    first = first[first > log["ts"].min() + pd.Timedelta(hours=1)]
    assert list(first.index) == ["v2"]
    frame = db.run("rollout_model_versions", start=DAY1, end=DAY4, model_versions=EVERY_VERSION)
    assert list(frame.columns) == ["model_version", "first_served_at"]
    assert frame.set_index("model_version")["first_served_at"].to_dict() == first.to_dict()
    later = db.run("rollout_model_versions", start=datetime(2024, 3, 1, 9, 30), end=DAY4, model_versions=[])
    assert list(later["model_version"]) == ["v2"]
    # Filtering to v1 does not make its first prediction a rollout.
    assert db.run("rollout_model_versions", start=DAY1, end=DAY4, model_versions=["v1"]).empty
    assert db.run("rollout_model_versions", start=DAY1, end=DAY4, model_versions=["v1' OR '1'='1"]).empty


def test_training_runs_end_at_their_finished_at(db, data_dir):
    runs = pd.read_parquet(data_dir / "training_runs.parquet")
    frame = db.run("rollout_training_runs", start=datetime(2024, 1, 1), end=DAY4, model_versions=EVERY_VERSION)
    assert list(frame.columns) == ["run_id", "model_version", "finished_at"]
    assert frame.to_dict("list") == runs[["run_id", "model_version", "finished_at"]].to_dict("list")
    v1 = db.run("rollout_training_runs", start=datetime(2024, 1, 1), end=DAY4, model_versions=["v1"])
    assert list(v1["run_id"]) == ["t1", "t2"]
    assert db.run("rollout_training_runs", start=DAY1, end=DAY4, model_versions=[]).empty  # all ended before March


def test_agent_versions_start_on_their_paper_runs_first_day(db, data_dir):
    runs = pd.read_parquet(data_dir / "backtest_runs.parquet")
    returns = pd.read_parquet(data_dir / "backtest_returns.parquet").merge(runs, on="run_id")
    paper_first = returns[returns["kind"] == "paper"].groupby(["agent", "agent_version"])["ts"].min()
    frame = db.run("rollout_agent_versions", run_ids=list(runs["run_id"]), start=None, end=None)
    assert list(frame.columns) == ["agent", "agent_version", "first_day", "run_id"]
    starts = {(a, v): d.date() for a, v, d in frame[["agent", "agent_version", "first_day"]].itertuples(index=False)}
    assert starts == {key: pd.Timestamp(day).date() for key, day in paper_first.items()}
    assert list(frame["run_id"]) == ["paper-ppo-2.1"]
    # The backtest of 2.1 alone shows its version's start too; 2.0's backtest has no paper run to start it.
    assert list(db.run("rollout_agent_versions", run_ids=["bt-ppo-2.1"], start=None, end=None)["agent_version"]) == [
        "2.1"
    ]
    assert db.run("rollout_agent_versions", run_ids=["bt-ppo-2.0"], start=None, end=None).empty
    assert db.run("rollout_agent_versions", run_ids=["bt-ppo-2.1"], start=date(2024, 1, 3), end=None).empty
