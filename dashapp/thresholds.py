"""Thresholds and the decision they make: one comparison, used by the pages, the alerts, /metrics and the CLI.

A metric's result carries its thresholds and its status next to its value (as Evidently's results carry their
test), so whoever shows the number shows the same decision. The settings (Config, DASHAPP_*) give the thresholds
that have one: SETTINGS names them per metric, and a rules file refers to them by their variable's name.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Config, env_name

COMPARISONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
STATUSES = ("ok", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Threshold:
    """When a value is a warning or critical: past `warning` or `critical` by `comparison` (either may be None)."""

    comparison: str
    warning: float | None = None
    critical: float | None = None

    def status(self, value: float | None) -> str | None:
        """ok, warning or critical; None for a missing value (no data decides nothing)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        crossed = COMPARISONS[self.comparison]
        if self.critical is not None and crossed(value, self.critical):
            return "critical"
        if self.warning is not None and crossed(value, self.warning):
            return "warning"
        return "ok"

    def judge(self, frame: pd.DataFrame, column: str = "value") -> pd.DataFrame:
        """The frame with its thresholds and each row's status beside `column` (columns warning, critical, status)."""
        values = frame[column].to_numpy(dtype=float) if len(frame) else np.array([], dtype=float)
        return frame.assign(
            warning=np.nan if self.warning is None else self.warning,
            critical=np.nan if self.critical is None else self.critical,
            status=pd.Series([self.status(v) for v in values], index=frame.index, dtype=object),
        )

    def sign(self, status: str | None) -> str:
        """The comparison as a person reads it, for the side of the threshold a status is on."""
        if status in ("warning", "critical"):
            return {">": ">", ">=": "≥", "<": "<", "<=": "≤"}[self.comparison]
        return {">": "≤", ">=": "<", "<": "≥", "<=": ">"}[self.comparison]


# Per metric with settings: its comparison and the Config fields of its warning and critical thresholds (None: the
# settings have none; a rule may still set a number). The shipped rules refer to these settings, so a page, its
# alert, /metrics and the CLI move together when one changes.
SETTINGS: dict[str, tuple[str, str | None, str | None]] = {
    "drift.psi": (">=", "drift_psi_warning", "drift_psi_critical"),
    "drift.cardinality_growth": (">=", "drift_cardinality_growth", None),
    "prediction.label_kl": (">=", "drift_prediction_kl", None),
    "model.accuracy": ("<", "slo_accuracy", "accuracy_critical"),
    "ops.latency_p95_ms": (">", None, "slo_latency_p95_ms"),
    "ops.cache_hit_rate": ("<", "slo_cache_hit_rate", None),
}


def setting(config: Config, reference: str) -> float:
    """The value of the setting a rules file names by its variable (DASHAPP_DRIFT_PSI_WARNING); KeyError if none."""
    for name in THRESHOLD_FIELDS:
        if env_name(name) == reference:
            return float(getattr(config, name))
    raise KeyError(reference)


THRESHOLD_FIELDS = tuple(dict.fromkeys(name for _, *names in SETTINGS.values() for name in names if name))


def configured(config: Config, metric: str) -> Threshold | None:
    """The metric's thresholds from the settings; None for a metric whose thresholds only its rules hold."""
    if metric not in SETTINGS:
        return None
    comparison, warning, critical = SETTINGS[metric]
    return Threshold(
        comparison, *(None if name is None else float(getattr(config, name)) for name in (warning, critical))
    )


def judged(frame: pd.DataFrame, threshold: Threshold | None, column: str = "value") -> pd.DataFrame:
    """threshold.judge(frame), or the same columns empty for a metric without thresholds."""
    if threshold is not None:
        return threshold.judge(frame, column)
    return frame.assign(warning=np.nan, critical=np.nan, status=pd.Series(None, index=frame.index, dtype=object))
