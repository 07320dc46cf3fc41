"""queries/training_metrics.sql: each run's metric curves with its model version, thinned in DuckDB when long."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.fixtures import training_metrics, training_runs, write_single

ALL_RUNS = {"model_version": None, "metric": None, "max_points": 500}


def test_every_logged_step_of_every_run_joined_to_its_model_version(db):
    frame = db.run("training_metrics", **ALL_RUNS)
    assert list(frame.columns) == ["model_version", "run_id", "finished_at", "metric", "step", "ts", "value", "logged"]
    # Oldest run first, then metric and step, as the chart draws them.
    assert list(frame.drop_duplicates("run_id")["run_id"]) == ["t1", "t2", "t3"]
    assert frame.groupby("run_id")["model_version"].first().to_dict() == {"t1": "v1", "t2": "v1", "t3": "v2"}
    assert len(frame) == len(training_metrics()) - 1  # t2's step 20, logged twice, is one point
    t2_loss = frame[(frame["run_id"] == "t2") & (frame["metric"] == "loss")]
    assert list(t2_loss["step"]) == [10, 20, 30]
    assert list(t2_loss["value"]) == [0.80, 0.52, 0.40]  # the later of the two points at step 20
    assert list(t2_loss["logged"]) == [1, 2, 1]
    finals = frame[frame["metric"] == "val_accuracy"].groupby("run_id")["value"].last()
    assert finals.to_dict() == training_runs().set_index("run_id")["accuracy"].to_dict()


def test_the_model_version_and_metric_filters_are_bound(db):
    v1 = db.run("training_metrics", **{**ALL_RUNS, "model_version": "v1"})
    assert set(v1["run_id"]) == {"t1", "t2"}
    loss = db.run("training_metrics", **{**ALL_RUNS, "metric": "loss"})
    assert set(loss["metric"]) == {"loss"} and len(loss) == 9
    assert db.run("training_metrics", **{**ALL_RUNS, "metric": "loss' OR '1'='1"}).empty


def test_a_long_run_is_thinned_to_max_points_keeping_logged_values_and_its_last_step(db, data_dir):
    steps = np.arange(0, 12_345, 5)  # 2,469 logged points, first step 0
    rng = np.random.default_rng(1)
    long = pd.DataFrame(
        {
            "run_id": "t3",
            "key": "loss",
            "step": steps,
            "ts": pd.Timestamp("2024-02-20") + pd.to_timedelta(steps, unit="s"),
            "value": rng.random(len(steps)),
        }
    )
    orphan = long.head(3).assign(run_id="never-finished")  # no training_runs row: not a run the portal knows
    frame = pd.concat([training_metrics().query("run_id != 't3'"), long, orphan], ignore_index=True)
    write_single(data_dir, "training_metrics", frame.assign(ts=frame["ts"].astype("datetime64[us]")))

    got = db.run("training_metrics", **{**ALL_RUNS, "max_points": 500})
    assert "never-finished" not in set(got["run_id"])
    thinned = got[got["run_id"] == "t3"]
    assert len(thinned) == 500
    assert thinned["logged"].sum() == len(steps)
    assert thinned["step"].iloc[-1] == steps[-1] and thinned["value"].iloc[-1] == long["value"].iloc[-1]
    # Each point drawn is the last one logged in its span of steps, with its own value and time.
    drawn = thinned.merge(long, on="step", suffixes=("", "_logged"))
    assert len(drawn) == 500
    assert (drawn["value"] == drawn["value_logged"]).all() and (drawn["ts"] == drawn["ts_logged"]).all()
    spans = np.diff(np.r_[steps[0] - 5, thinned["step"].to_numpy()]) // 5
    assert (spans == thinned["logged"].to_numpy()).all()
    assert (got[got["run_id"] != "t3"]["logged"] <= 2).all()  # the short runs keep every step
