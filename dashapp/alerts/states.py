"""The alert state machine, bucket by bucket, as Grafana and Prometheus users know it.

ok -> pending (the condition holds, `for` not yet elapsed) -> firing (at warning or critical)
-> recovering (the condition stopped; kept firing for `keep_firing_for` buckets) -> ok. A bucket
without a value is `nodata` and ends a pending streak. A firing alert keeps firing through
missing buckets (outcomes and returns arrive late) until `resolve_after_nodata` of them in a row:
then its series has gone (a retired model version, a pipeline that stopped) and the alert
resolves, as Grafana resolves a missing series. `error` is decided by the caller (the metric
could not be read).

The machine is resumable: `advance` takes the `Carry` left by the bucket before, so the scheduler
keeps it in the state store and a restart goes on with the same pending progress and the same
"since" (Prometheus' ALERTS_FOR_STATE).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from ..thresholds import Threshold

SEVERITIES = ("warning", "critical")
ACTIVE = frozenset({"firing", "recovering"})  # states in which an alert counts as firing
SEVERITY_RANK = {None: 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class Thresholds:
    comparison: str
    warning: float | None
    critical: float | None
    for_buckets: int = 0
    keep_firing_for: int = 0
    resolve_after_nodata: int = 0  # 0: a firing alert keeps firing through missing data

    def level(self, value: float) -> str | None:
        """The worst severity whose threshold `value` crosses, else None (Threshold.status, as every page decides)."""
        status = Threshold(self.comparison, self.warning, self.critical).status(value)
        return None if status == "ok" else status

    def worse(self, a: float, b: float) -> float:
        """The value further past the thresholds."""
        return max(a, b) if self.comparison in (">", ">=") else min(a, b)


@dataclass(frozen=True, slots=True)
class Step:
    """One evaluated bucket: its value, the state after it and the severity that applies."""

    bucket: datetime
    value: float | None
    state: str  # ok, pending, firing, recovering, nodata
    severity: str | None  # warning or critical while pending, firing or recovering


@dataclass(frozen=True, slots=True)
class Period:
    """A firing period: from the first firing bucket to the bucket that ended it (None: still firing)."""

    start: datetime
    end: datetime | None
    severity: str  # the worst severity reached
    peak: float | None  # the value furthest past the thresholds


@dataclass(frozen=True, slots=True)
class Carry:
    """What the machine remembers between buckets: all a restart needs to go on where it stopped."""

    state: str = "nodata"
    since: datetime | None = None  # when `state` began (a firing alert: its period's start)
    severity: str | None = None
    held: int = 0  # buckets in a row past a threshold: the pending progress
    calm: int = 0  # buckets in a row back under the thresholds while firing
    missing: int = 0  # buckets in a row without data while firing
    missing_since: datetime | None = None
    period: Period | None = None  # the open firing period
    value: float | None = None  # the newest value measured (a firing alert's last one through missing data)

    @property
    def active(self) -> bool:
        return self.period is not None


def advance(
    thresholds: Thresholds, carry: Carry, bucket: datetime, value: float | None
) -> tuple[Step, Carry, Period | None]:
    """Evaluate one bucket after `carry`: the step, the new carry and the firing period it closed (if any)."""
    level = None if value is None else thresholds.level(value)
    period, closed = carry.period, None
    held, calm, missing, missing_since, severity = carry.held, carry.calm, 0, None, carry.severity
    if value is None:
        held = 0
        if period is not None:
            missing, missing_since = carry.missing + 1, carry.missing_since or bucket
            if thresholds.resolve_after_nodata and missing >= thresholds.resolve_after_nodata:
                # The series is gone: the period ends where its data stopped, not when we gave up waiting.
                closed, period = replace(period, end=missing_since), None
                state, severity, calm, missing, missing_since = "nodata", None, 0, 0, None
            else:
                state = "firing"
        else:
            state, severity = "nodata", None
    elif level is not None:
        held, calm, severity = held + 1, 0, level
        if period is None and held > thresholds.for_buckets:
            period = Period(bucket, None, level, value)
        if period is not None:
            critical = "critical" if "critical" in (period.severity, level) else period.severity
            period = replace(period, severity=critical, peak=thresholds.worse(period.peak, value))
        state = "firing" if period is not None else "pending"
    elif period is not None and calm < thresholds.keep_firing_for:
        calm, state = calm + 1, "recovering"
    else:
        if period is not None:
            closed, period = replace(period, end=bucket), None
        held, calm, severity, state = 0, 0, None, "ok"
    if state not in ACTIVE and state != "pending":
        severity = None
    if period is not None:
        since = period.start
    elif state == carry.state and carry.since is not None:
        since = carry.since
    else:
        since = bucket
    kept = value if value is not None else carry.value if period is not None else None
    new = Carry(state, since, severity, held, calm, missing, missing_since, period, kept)
    return Step(bucket, value, state, severity), new, closed


def run(
    thresholds: Thresholds, values: Iterable[tuple[datetime, float | None]], carry: Carry | None = None
) -> list[Step]:
    """Evaluate the buckets in time order: firing begins once the condition has held for `for` more buckets."""
    steps = []
    carry = carry or Carry()
    for bucket, value in values:
        step, carry, _ = advance(thresholds, carry, bucket, value)
        steps.append(step)
    return steps


def periods(thresholds: Thresholds, steps: list[Step]) -> list[Period]:
    """The firing periods of `run`'s steps (replayed from the start); recovering buckets belong to their period."""
    found, carry = [], Carry()
    for step in steps:
        _, carry, closed = advance(thresholds, carry, step.bucket, step.value)
        if closed is not None:
            found.append(closed)
    if carry.period is not None:
        found.append(carry.period)
    return found
