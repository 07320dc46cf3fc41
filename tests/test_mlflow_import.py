"""`dashapp import-mlflow` against a real MLflow tracking store (a SQLite file) made with MLflow's own client."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go
import pyarrow.parquet as pq
import pytest

from dashapp.charts import get_chart, render
from dashapp.check import check_data_dir
from dashapp.cli import main
from tests.fixtures import chart_args

BASE = 1_700_000_000_000  # epoch milliseconds; every logged time is odd in its milliseconds
AWKWARD = [0.1 + 0.2, 1 / 3, 1e-300, 5e-324, 2 / 3, 1.7976931348623157e308]
FINISHED = {  # run name -> (end time after BASE in ms, each metric's values by step)
    "train-a": (10_000_123, {"accuracy": AWKWARD[:3], "f1": [0.5, 2 / 3], "precision": [1 / 7], "loss": [1.0, 0.25]}),
    "train-b": (20_000_457, {"accuracy": [0.8, 0.1 + 0.7], "f1": AWKWARD[3:], "recall": [1 / 9]}),
    "train-c": (30_000_789, {"accuracy": [1 / 3], "f1": [1e-300], "loss": [float("nan"), 0.5]}),
    "sweep-7": (40_000_001, {"accuracy": [0.75], "f1": [0.7], "precision": [0.1 + 0.2], "recall": [2 / 3]}),
}
POINTS = sum(len(values) for _, metrics in FINISHED.values() for values in metrics.values())


@pytest.fixture(scope="module", autouse=True)
def _offline():
    """MLflow may reach nothing: usage telemetry off, and any TCP/UDP connection attempt fails the test."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            patch.delenv(name, raising=False)
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("DO_NOT_TRACK", "true")
        connect = socket.socket.connect

        def local_only(sock, address):
            assert sock.family == socket.AF_UNIX, f"network connection attempted to {address}"
            return connect(sock, address)

        patch.setattr(socket.socket, "connect", local_only)
        yield


@pytest.fixture(scope="module")
def _template(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A tracking store with four finished runs (three registered, one tagged), a running, a failed and one without F1.

    MLflow is imported here, after _offline: it decides on usage telemetry once, when first imported.
    """
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow")
    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.create_experiment("sentiment", artifact_location=(folder / "artifacts").as_uri())
    ids = {name: log_run(client, experiment, name, metrics, BASE + end) for name, (end, metrics) in FINISHED.items()}
    client.set_tag(ids["train-c"], "model_version", "sent-v9")
    client.create_registered_model("sentiment")
    for name in ("train-a", "train-b", "train-b", "train-c"):  # train-b twice: versions 2 and 3
        client.create_model_version("sentiment", source=(folder / "model").as_uri(), run_id=ids[name])
    ids["running"] = log_run(client, experiment, "running", {"accuracy": [0.9], "f1": [0.9]}, None, "RUNNING")
    ids["failed"] = log_run(client, experiment, "failed", {"accuracy": [0.1], "f1": [0.1]}, BASE + 5, "FAILED")
    ids["no-f1"] = log_run(client, experiment, "no-f1", {"accuracy": [0.9]}, BASE + 6)
    return folder / "mlflow.db", ids


@pytest.fixture
def store(_template, tmp_path) -> tuple[str, object, dict[str, str]]:
    """The tracking URI of a copy of the template store (tests add runs to it), a client for it, and the run ids."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{shutil.copy(_template[0], tmp_path / 'mlflow.db')}"
    return uri, MlflowClient(tracking_uri=uri), dict(_template[1])


def log_run(client, experiment: str, name: str, metrics: dict, end: int | None, status: str = "FINISHED") -> str:
    run_id = client.create_run(experiment, start_time=BASE, run_name=name).info.run_id
    for key, values in metrics.items():
        for step, value in enumerate(values):
            client.log_metric(run_id, key, value, timestamp=BASE + 1_001 * step + 7, step=step)
    if status != "RUNNING":
        client.set_terminated(run_id, status=status, end_time=end)
    return run_id


def at(milliseconds: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=milliseconds)


def bits(value: float) -> str:
    """Compare floats bit for bit (NaN equals NaN, 0.30000000000000004 differs from 0.3)."""
    return value.hex()


def import_mlflow(uri: str, out: Path, *extra: str) -> int:
    return main(["import-mlflow", "--tracking-uri", uri, "--experiment", "sentiment", "--out", str(out), *extra])


def test_import_copies_finished_runs_their_versions_and_every_metric_point_exactly(store, data_dir, capsys):
    uri, client, ids = store
    tracking_db = Path(uri.removeprefix("sqlite:///"))
    before = tracking_db.read_bytes()
    assert import_mlflow(uri, data_dir) == 0
    assert tracking_db.read_bytes() == before  # the import only reads the store
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("imported 4 of 7 runs of experiment 'sentiment' into ")
    assert f"(model_version from: 2 registry, 1 tag, 1 run name) and {POINTS} metric points" in out[0]
    assert "; skipped 3: " in out[0] and all(f"1 {why}" in out[0] for why in ("RUNNING", "FAILED", "lacking f1"))
    assert sorted(out[1:]) == sorted(
        f"  skipped {ids[name]} ({name}): {why}"
        for name, why in (("running", "RUNNING"), ("failed", "FAILED"), ("no-f1", "lacking f1"))
    )

    runs = pq.read_table(data_dir / "training_runs.parquet")
    assert {c: str(runs.schema.field(c).type) for c in ("finished_at", "accuracy", "recall")} == {
        "finished_at": "timestamp[us]",  # as in every other table; MLflow's milliseconds fit exactly
        "accuracy": "double",
        "recall": "double",
    }
    versions = {"train-a": "sentiment:1", "train-b": "sentiment:3", "train-c": "sent-v9", "sweep-7": "sweep-7"}
    assert runs.to_pylist() == [
        {
            "run_id": ids[name],
            "model_version": versions[name],
            "finished_at": at(BASE + end),
            **{key: metrics[key][-1] if key in metrics else None for key in ("accuracy", "f1", "precision", "recall")},
        }
        for name, (end, metrics) in FINISHED.items()
    ]
    for row in runs.to_pylist():  # the last logged value is MLflow's own latest value, bit for bit
        latest = client.get_run(row["run_id"]).data.metrics
        assert [bits(row[k]) for k in ("accuracy", "f1")] == [bits(latest["accuracy"]), bits(latest["f1"])]

    points = pq.read_table(data_dir / "training_metrics.parquet").to_pylist()
    expected = [
        (ids[name], key, step, at(BASE + 1_001 * step + 7), bits(value))
        for name, (_, metrics) in FINISHED.items()
        for key in sorted(metrics)
        for step, value in enumerate(metrics[key])
    ]
    assert [(p["run_id"], p["key"], p["step"], p["ts"], bits(p["value"])) for p in points] == expected


def test_rerunning_replaces_the_tables_and_leaves_no_temporary_file(store, data_dir, capsys):
    uri, client, ids = store
    assert import_mlflow(uri, data_dir) == 0
    first = pq.read_table(data_dir / "training_runs.parquet")
    assert import_mlflow(uri, data_dir) == 0
    assert pq.read_table(data_dir / "training_runs.parquet").equals(first)
    client.log_metric(ids["running"], "f1", 0.95, timestamp=BASE + 9, step=1)
    client.set_terminated(ids["running"], end_time=BASE + 50_000_000)
    assert import_mlflow(uri, data_dir) == 0
    runs = pq.read_table(data_dir / "training_runs.parquet").to_pylist()
    assert [r["run_id"] for r in runs][-1] == ids["running"] and runs[-1]["f1"] == 0.95
    assert runs[-1]["model_version"] == "running" and len(runs) == 5
    assert not [p.name for p in data_dir.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_check_passes_and_the_sentiment_training_chart_shows_the_imported_runs(store, data_dir, db, capsys):
    uri, _, ids = store
    assert import_mlflow(uri, data_dir) == 0
    reports = {r.table: r for r in check_data_dir(data_dir)}
    assert (reports["training_runs"].status, reports["training_runs"].rows) == ("ok", 4)
    assert (reports["training_metrics"].status, reports["training_metrics"].rows) == ("ok", POINTS)
    assert main(["check", "--data", str(data_dir)]) == 0

    rendered = render(get_chart("sentiment.training"), chart_args("sentiment.training"), db)
    names = list(FINISHED)
    assert list(rendered.data["run_id"]) == [ids[n] for n in names]
    assert list(rendered.data["accuracy"]) == [FINISHED[n][1]["accuracy"][-1] for n in names]
    bars = {trace.name: trace for trace in go.Figure(rendered.figure).data}
    assert list(bars["training accuracy"].x) == ["sentiment:1", "sentiment:3", "sent-v9", "sweep-7"]


def test_the_training_curves_chart_draws_every_imported_point(store, data_dir, db, capsys):
    uri, _, ids = store
    assert import_mlflow(uri, data_dir) == 0
    spec = get_chart("sentiment.training_curves")
    rendered = render(spec, chart_args(spec.id), db)
    drawn = {(r.run_id, r.metric, r.step): bits(r.value) for r in rendered.data.itertuples()}
    assert drawn == {
        (ids[name], key, step): bits(value)
        for name, (_, metrics) in FINISHED.items()
        for key, values in metrics.items()
        for step, value in enumerate(values)
    }
    figure = spec.figure(rendered.data, rendered.params)
    panels = {(trace.yaxis, trace.legendgroup) for trace in figure.data}
    assert {run for axis, run in panels if axis == "y"} == {ids["train-a"], ids["train-c"]}  # they logged a loss
    assert {run for axis, run in panels if axis == "y2"} == {ids[name] for name in FINISHED}
    legend = sorted((trace.legendrank, trace.name) for trace in figure.data if trace.showlegend)
    assert [name for _, name in legend] == ["sentiment:1", "sentiment:3", "sent-v9", "sweep-7"]  # oldest run first


def test_metric_option_reads_a_differently_named_key(store, tmp_path, capsys):
    uri, client, _ = store
    experiment = client.get_experiment_by_name("sentiment").experiment_id
    run_id = log_run(client, experiment, "renamed", {"val_acc": [0.6, 1 / 3], "val_f1": [0.5]}, BASE + 60_000_000)
    assert import_mlflow(uri, tmp_path / "plain") == 0
    assert "1 lacking accuracy and f1" in capsys.readouterr().out
    assert import_mlflow(uri, tmp_path / "mapped", "--metric", "accuracy=val_acc", "--metric", "f1=val_f1") == 0
    runs = pq.read_table(tmp_path / "mapped" / "training_runs.parquet").to_pylist()
    renamed = next(r for r in runs if r["run_id"] == run_id)
    assert (renamed["accuracy"], renamed["f1"]) == (1 / 3, 0.5)
    # Runs logging the usual names now lack the mapped keys: the mapping applies to the whole experiment.
    assert [r["run_id"] for r in runs] == [run_id]
    assert "lacking accuracy (val_acc) and f1 (val_f1)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--experiment", "nope"], "experiment 'nope' does not exist; experiments there: "),
        (["--metric", "auc=val_auc"], "--metric auc=val_auc: 'auc' is not one of accuracy, f1, precision, recall"),
    ],
)
def test_bad_arguments_are_one_clear_line_and_exit_2(store, tmp_path, capsys, args, message):
    uri = store[0]
    argv = ["import-mlflow", "--tracking-uri", uri, "--experiment", "sentiment", "--out", str(tmp_path / "out")]
    assert main(argv + args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dashapp import-mlflow: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_missing_store_file_is_an_error_and_is_not_created(tmp_path, capsys):
    missing = tmp_path / "typo.db"
    assert import_mlflow(f"sqlite:///{missing}", tmp_path / "out") == 2
    assert "typo.db does not exist" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "out").exists()


def test_a_table_folder_that_would_hide_the_file_is_refused(store, tmp_path, capsys):
    (tmp_path / "out" / "training_runs").mkdir(parents=True)
    assert import_mlflow(store[0], tmp_path / "out") == 2
    assert "training_runs exists and the portal reads it instead of training_runs.parquet" in capsys.readouterr().err


def test_without_mlflow_the_command_names_the_extra(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` finds when it is not installed
    assert import_mlflow(store[0], tmp_path / "out") == 2
    assert capsys.readouterr().err == (
        "dashapp import-mlflow: MLflow is not installed (no module named 'mlflow'); "
        "install it with: pip install 'dashapp[mlflow]'\n"
    )


def test_mlflow_is_not_imported_by_the_portal_or_the_cli():
    code = (
        "import sys, dashapp.cli, dashapp.mlflow_import; from dashapp import create_app; print('mlflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
