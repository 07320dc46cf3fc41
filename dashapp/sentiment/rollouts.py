"""When sentiment model versions came into use: the first prediction each version served, and when each
training run ended. The charts over time mark both (charts/rollouts.py); the SQL reads the whole log, so a
version that served before the window is never taken for a new one.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from ..db import Database


def _versions(model_version: str | None) -> list[str]:
    return [model_version] if model_version else []


def first_served(db: Database, start: datetime, end: datetime, model_version: str | None = None) -> pd.DataFrame:
    """The versions whose first logged prediction falls in [start, end), with its time (model_version,
    first_served_at), oldest first; `model_version` keeps that one."""
    return db.run("rollout_model_versions", start=start, end=end, model_versions=_versions(model_version))


def training_ends(db: Database, start: datetime, end: datetime, model_version: str | None = None) -> pd.DataFrame:
    """The training runs that finished in [start, end) (run_id, model_version, finished_at), oldest first;
    `model_version` keeps the runs that produced it."""
    return db.run("rollout_training_runs", start=start, end=end, model_versions=_versions(model_version))
