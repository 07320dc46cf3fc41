"""The alert state machine, bucket by bucket, as Grafana and Prometheus users know it.

ok -> pending (the condition holds, `for` not yet elapsed) -> firing (at warning or critical)
-> recovering (the condition stopped; kept firing for `keep_firing_for` buckets) -> ok. A bucket
without a value is `nodata` and ends a pending streak; a firing alert keeps firing through it
rather than resolving on missing data (outcomes and returns arrive late). `error` is decided by
the caller (the metric could not be read).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

COMPARISONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
SEVERITIES = ("warning", "critical")
ACTIVE = frozenset({"firing", "recovering"})  # states in which an alert counts as firing


@dataclass(frozen=True)
class Thresholds:
    comparison: str
    warning: float | None
    critical: float | None
    for_buckets: int = 0
    keep_firing_for: int = 0

    def level(self, value: float) -> str | None:
        """The worst severity whose threshold `value` crosses, else None."""
        crossed = COMPARISONS[self.comparison]
        if self.critical is not None and crossed(value, self.critical):
            return "critical"
        if self.warning is not None and crossed(value, self.warning):
            return "warning"
        return None


@dataclass(frozen=True)
class Step:
    """One evaluated bucket: its value, the state after it and the severity that applies."""

    bucket: datetime
    value: float | None
    state: str  # ok, pending, firing, recovering, nodata
    severity: str | None  # warning or critical while pending, firing or recovering


@dataclass(frozen=True)
class Period:
    """A firing period: from the first firing bucket to the bucket that ended it (None: still firing)."""

    start: datetime
    end: datetime | None
    severity: str  # the worst severity reached
    peak: float  # the value furthest past the thresholds


def run(thresholds: Thresholds, values: Iterable[tuple[datetime, float | None]]) -> list[Step]:
    """Evaluate the buckets in time order: firing begins once the condition has held for `for` more buckets."""
    steps, held, calm, active, severity = [], 0, 0, False, None
    for bucket, value in values:
        level = None if value is None else thresholds.level(value)
        if value is None:  # a firing alert keeps firing (Grafana's "keep last state"); a pending one starts over
            held, state = 0, "firing" if active else "nodata"
        elif level is not None:
            held, calm, severity = held + 1, 0, level
            active = active or held > thresholds.for_buckets
            state = "firing" if active else "pending"
        elif active and calm < thresholds.keep_firing_for:
            calm, state = calm + 1, "recovering"
        else:
            held, calm, active, severity, state = 0, 0, False, None, "ok"
        steps.append(Step(bucket, value, state, severity if state in ACTIVE or state == "pending" else None))
    return steps


def periods(thresholds: Thresholds, steps: list[Step]) -> list[Period]:
    """The firing periods of `run`'s steps; recovering buckets inside a period belong to it."""
    worse = max if thresholds.comparison in (">", ">=") else min
    found, current = [], None
    for step in steps:
        if step.state == "firing":
            if current is None:
                current = {"start": step.bucket, "severity": step.severity, "peak": step.value}
            if step.severity == "critical":
                current["severity"] = "critical"
            if step.value is not None:  # firing on through a bucket without data
                current["peak"] = worse(current["peak"], step.value)
        elif step.state in ("ok", "pending") and current is not None:
            found.append(Period(end=step.bucket, **current))
            current = None
    if current is not None:
        found.append(Period(end=None, **current))
    return found
