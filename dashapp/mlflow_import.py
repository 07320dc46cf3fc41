"""Import one MLflow experiment: its finished runs as training_runs, every metric point as training_metrics.

MLflow is an optional extra (pip install 'dashapp[mlflow]'): it is imported here, when the command runs, and
nowhere else. Each run's row carries MLflow's latest value of each metric (the largest step, then the latest
timestamp); training_metrics keeps every (step, timestamp, value) of every metric under MLflow's own key. Values are
copied as float64 and times as MLflow's milliseconds, so both round-trip exactly. Both files are replaced whole
under a hidden name and renamed into place: a running portal never reads half of one, and a rerun replaces the last.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa

from .contract import TABLES
from .errors import DashappError
from .sources import first_line, publish

METRICS = ("accuracy", "f1", "precision", "recall")  # training_runs' metric columns
REQUIRED = ("accuracy", "f1")
VERSION_TAG = "model_version"  # a run tag that names the version explicitly (what the model server logs)
PAGE = 1000
EPOCH = datetime(1970, 1, 1)
INSTALL = "pip install 'dashapp[mlflow]'"
RUNS_SCHEMA = pa.schema(
    [("run_id", pa.string()), ("model_version", pa.string()), ("finished_at", pa.timestamp("us"))]
    + [(name, pa.float64()) for name in METRICS]
)
POINTS_SCHEMA = pa.schema(
    [("run_id", pa.string()), ("key", pa.string()), ("step", pa.int64()), ("ts", pa.timestamp("us"))]
    + [("value", pa.float64())]
)


class ImportFailed(DashappError):
    """The experiment cannot be imported: the command prints this one line and exits 2."""


@dataclass
class Summary:
    """What an import did: rows written, where each model_version came from, and the runs left out and why."""

    out: Path
    experiment: str
    runs: int = 0
    points: int = 0
    versions: Counter = field(default_factory=Counter)  # "tag", "registry" or "run name" -> runs
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (run_id, run name, reason)

    def lines(self) -> list[str]:
        versions = ", ".join(f"{n} {source}" for source, n in self.versions.most_common())
        head = (
            f"imported {self.runs} of {self.runs + len(self.skipped)} runs of experiment {self.experiment!r} into "
            f"{self.out / 'training_runs.parquet'} (model_version from: {versions or 'none'}) and "
            f"{self.points:,} metric points into training_metrics.parquet"
        )
        if self.skipped:
            reasons = Counter(reason for _, _, reason in self.skipped)
            head += f"; skipped {len(self.skipped)}: " + ", ".join(f"{n} {r}" for r, n in reasons.most_common())
        return [head, *(f"  skipped {run_id} ({name}): {reason}" for run_id, name, reason in self.skipped)]


def metric_keys(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Map each training_runs metric column to the MLflow key it is read from (--metric accuracy=val_acc)."""
    keys = {name: name for name in METRICS}
    for name, key in pairs:
        if name not in keys:
            raise ImportFailed(f"--metric {name}={key}: {name!r} is not one of {', '.join(METRICS)}")
        if not key:
            raise ImportFailed(f"--metric {name}=: give the MLflow metric key after '='")
        keys[name] = key
    return keys


def import_experiment(tracking_uri: str, experiment: str, out: Path, keys: dict[str, str]) -> Summary:
    """Read the experiment's runs, their metric histories and registered versions; write both tables under `out`."""
    out = Path(out)
    _check_out(out)
    store = _local_store(tracking_uri)
    if store is not None and not store.exists():
        raise ImportFailed(f"{tracking_uri}: {store} does not exist (MLflow would create an empty store there)")
    summary = Summary(out, experiment)
    try:
        runs, points = _read_experiment(tracking_uri, experiment, keys, summary)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("mlflow", "sqlalchemy", "alembic"):
            raise
        raise ImportFailed(
            f"MLflow is not installed (no module named {exc.name!r}); install it with: {INSTALL}"
        ) from exc
    publish(pa.Table.from_pylist(points, POINTS_SCHEMA), out / "training_metrics.parquet")
    publish(pa.Table.from_pylist(runs, RUNS_SCHEMA), out / "training_runs.parquet")
    return summary


def _check_out(out: Path) -> None:
    """Refuse to write a file the portal would not read: a table's folder wins over its single file."""
    for name in ("training_runs", "training_metrics"):
        folder, single = TABLES[name].locations(out)
        if folder.is_dir():
            raise ImportFailed(f"{folder} exists and the portal reads it instead of {single.name}: move it away")


def _read_experiment(tracking_uri: str, experiment: str, keys: dict[str, str], summary: Summary):
    """Import MLflow (its usage telemetry off unless set, so only the tracking store is contacted) and read."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # MLflow reads it once, when first imported
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        return _read(client, _experiment_id(client, experiment), keys, summary)
    except MlflowException as exc:
        raise ImportFailed(f"{tracking_uri}: {first_line(exc)}") from exc


def _local_store(tracking_uri: str) -> Path | None:
    """The file or folder a local tracking URI names (sqlite:///x.db, file:///dir, a path); None for a server."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
    parsed = urlparse(tracking_uri)
    return Path(parsed.path) if parsed.scheme in ("", "file") else None


def _experiment_id(client, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage != "active":
        state = "is deleted" if experiment else "does not exist"
        known = [e.name for e in client.search_experiments(max_results=10)]
        raise ImportFailed(f"experiment {name!r} {state}; experiments there: {', '.join(known) or 'none'}")
    return experiment.experiment_id


def _read(client, experiment_id: str, keys: dict[str, str], summary: Summary) -> tuple[list[dict], list[dict]]:
    """Build training_runs rows (by finish time) and their metric points; count what is skipped in `summary`."""
    runs = list(_all_pages(client.search_runs, [experiment_id]))
    registered = _registered_versions(client, [run.info.run_id for run in runs])
    rows, points = [], []
    for run in sorted(runs, key=lambda r: (r.info.end_time or 0, r.info.run_id)):
        reason = _skip_reason(run, keys)
        if reason:
            summary.skipped.append((run.info.run_id, run.info.run_name, reason))
            continue
        version, source = _model_version(run, registered)
        summary.versions[source] += 1
        rows.append(_row(run, version, keys))
        points += _points(client, run)
    summary.runs, summary.points = len(rows), len(points)
    return rows, points


def _all_pages(search, *args, **kwargs):
    """Yield every result of a paged MLflow search (search_runs, search_model_versions)."""
    token = None
    while True:
        page = search(*args, max_results=PAGE, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def _registered_versions(client, run_ids: list[str]) -> dict[str, str]:
    """Each run's registered model version as name:version; the newest if the run was registered more than once."""
    newest = {}
    for start in range(0, len(run_ids), 100):
        quoted = ", ".join(f"'{run_id}'" for run_id in run_ids[start : start + 100])
        for version in _all_pages(client.search_model_versions, f"run_id IN ({quoted})"):
            key = (version.creation_timestamp, int(version.version))
            if version.run_id not in newest or key > newest[version.run_id][0]:
                newest[version.run_id] = (key, f"{version.name}:{version.version}")
    return {run_id: label for run_id, (_, label) in newest.items()}


def _skip_reason(run, keys: dict[str, str]) -> str:
    """Why a run gets no row ("" when it gets one): not finished, or without accuracy or F1."""
    if run.info.status != "FINISHED":
        return run.info.status
    if run.info.end_time is None:
        return "no end time"
    lacking = [
        name if keys[name] == name else f"{name} ({keys[name]})"
        for name in REQUIRED
        if keys[name] not in run.data.metrics
    ]
    return f"lacking {' and '.join(lacking)}" if lacking else ""


def _model_version(run, registered: dict[str, str]) -> tuple[str, str]:
    """The run's model_version and its source: the model_version tag, else its registered version, else its name."""
    if run.data.tags.get(VERSION_TAG):
        return run.data.tags[VERSION_TAG], "tag"
    if run.info.run_id in registered:
        return registered[run.info.run_id], "registry"
    return run.info.run_name or run.info.run_id, "run name"


def _row(run, version: str, keys: dict[str, str]) -> dict:
    metrics = run.data.metrics
    return {
        "run_id": run.info.run_id,
        "model_version": version,
        "finished_at": _ms(run.info.end_time),
        **{name: metrics.get(keys[name]) for name in METRICS},
    }


def _points(client, run) -> list[dict]:
    """Every logged point of every metric of the run, in MLflow's order (step, then timestamp)."""
    return [
        {"run_id": run.info.run_id, "key": key, "step": m.step, "ts": _ms(m.timestamp), "value": m.value}
        for key in sorted(run.data.metrics)
        for m in client.get_metric_history(run.info.run_id, key)
    ]


def _ms(milliseconds: int) -> datetime:
    """MLflow's epoch milliseconds as a naive UTC timestamp, exactly."""
    return EPOCH + timedelta(milliseconds=milliseconds)
