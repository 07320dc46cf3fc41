"""Service-level objectives: good and total events, the error budget left and how fast it burns.

An objective promises a share of good events over a rolling window (DASHAPP_SLO_WINDOW_DAYS, 30):
instance samples that were up, requests faster than the latency bound, feature lookups the cache
answered, predictions whose outcome agreed. Its error budget is the share it may get wrong, 1 - target.
The burn rate over a window is the bad share there divided by that budget: at 1 the budget lasts exactly
the SLO window, at 14.4 two percent of it goes in an hour (the Google SRE workbook, "Alerting on SLOs").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from .config import Config
from .db import Database
from .errors import DataUnavailable
from .sentiment.metrics import accuracy

MODEL_SERVER, FEATURE_CACHE = "model-server", "feature-store-cache"
EVENT_COLUMNS = ["bucket", "slo", "service", "good", "total"]
DAY = timedelta(days=1)
# The burn-rate windows of the SLO table and of the three alert tiers (long, short): SRE workbook, table 5-8.
TABLE_WINDOWS = (timedelta(hours=1), timedelta(hours=6), timedelta(days=3))
TIERS = {
    "fast": (timedelta(hours=1), timedelta(minutes=5)),
    "medium": (timedelta(hours=6), timedelta(minutes=30)),
    "slow": (timedelta(days=3), timedelta(hours=6)),
}
FAST_BURN = 14.4  # the fast tier's threshold: 2% of a 30-day budget in an hour
STEP = timedelta(minutes=5)  # the SLO table's event buckets: its end is floored to one
NOW = timedelta(hours=1)  # the table's "now" for the event streams; accuracy's is ACCURACY_NOW
ACCURACY_NOW = timedelta(days=3)  # outcomes arrive up to a day late: a shorter window is mostly unsettled


@dataclass(frozen=True)
class Objective:
    slo: str  # availability, latency, cache_hit_rate or accuracy
    target: float  # the share of events that must be good
    promise: str  # what it promises, in words
    min_events: int  # a window with fewer events has no burn rate (one slow request of three is no page)
    daily: bool = False  # its events are counted per day (accuracy, by prediction day)

    @property
    def budget(self) -> float:
        return 1 - self.target


def objectives(config: Config) -> dict[str, Objective]:
    """The four objectives with the configured targets."""
    return {
        o.slo: o
        for o in (
            Objective("availability", config.slo_availability, f"{config.slo_availability:.2%} of samples up", 1),
            Objective(
                "latency",
                0.95,
                f"p95 latency under {config.slo_latency_p95_ms:,.0f} ms: 95% of requests faster",
                50,
            ),
            Objective(
                "cache_hit_rate", config.slo_cache_hit_rate, f"{config.slo_cache_hit_rate:.0%} of lookups hit", 50
            ),
            Objective("accuracy", config.slo_accuracy, f"{config.slo_accuracy:.0%} of predictions right", 100, True),
        )
    }


# The table each objective's events come from: its first row says how much of an SLO window holds data.
EVENT_TABLES = {
    "availability": "service_metrics",
    "latency": "predictions",
    "cache_hit_rate": "predictions",
    "accuracy": "predictions",
}


def data_starts(db: Database) -> dict[str, pd.Timestamp | None]:
    """Per objective, the first timestamp of the table its events come from; None without the table or rows."""
    firsts = {}
    for table in sorted(set(EVENT_TABLES.values())):
        try:
            first = db.data_from(table)
        except DataUnavailable:
            first = None
        firsts[table] = None if first is None else pd.Timestamp(first)
    return {slo: firsts[table] for slo, table in EVENT_TABLES.items()}


def window_covered(first: pd.Timestamp | None, ends, window: timedelta, step: timedelta) -> pd.TimedeltaIndex:
    """How much of each SLO window ending at `ends` the data covers: all of it, unless the data's first
    bucket of `step` (its first row, floored) starts later than the window does.

    A budget over less than its window is not the promise's budget yet: each bad event weighs more than it will
    once the window is full, so the pages mark it a partial window.
    """
    ends = pd.DatetimeIndex(ends)
    if first is None:
        return pd.TimedeltaIndex([window] * len(ends))
    covered = np.clip((ends - first.floor(step)).to_numpy(), np.timedelta64(0), pd.Timedelta(window).to_timedelta64())
    return pd.TimedeltaIndex(covered)


# -- the arithmetic (tests/test_slo.py checks it against hand-computed figures) -------------------


def burn_rate(bad, total, objective: Objective):
    """The bad share over the error budget; NaN without enough events. Numbers or arrays."""
    bad, total = np.asarray(bad, dtype=float), np.asarray(total, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total >= max(objective.min_events, 1), bad / total / objective.budget, np.nan)[()]


def budget_left(bad, total, objective: Objective):
    """The share of the window's error budget not yet spent: 1 untouched, 0 spent, below 0 overspent."""
    bad, total = np.asarray(bad, dtype=float), np.asarray(total, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1 - bad / (objective.budget * total), np.nan)[()]


def rolling(series: pd.DataFrame, window: timedelta, step: timedelta) -> pd.DataFrame:
    """Sums of good and total over the `window` ending with each bucket (bucket starts `step` apart, gaps filled)."""
    grid = pd.date_range(series.index.min(), series.index.max(), freq=step)
    full = series.reindex(grid, fill_value=0)
    return full.rolling(max(int(window / step), 1), min_periods=1).sum()


def multiwindow_burn(
    events: pd.DataFrame, objective: Objective, long: timedelta, short: timedelta, step: timedelta
) -> pd.DataFrame:
    """Per bucket: the burn rate that both windows ending with it reach, min(long, short).

    An alert on this value > threshold is the workbook's multiwindow condition: the long window says the
    budget really goes, the short one that it is still going (so the alert resets soon after the fix).
    Returns bucket, service, value.
    """
    parts = []
    for service, part in events[events["slo"] == objective.slo].groupby("service", sort=True):
        series = part.groupby("bucket")[["good", "total"]].sum()
        sums = {w: rolling(series, w, step) for w in (long, short)}
        burns = [burn_rate(sums[w]["total"] - sums[w]["good"], sums[w]["total"], objective) for w in (long, short)]
        value = np.minimum(*burns)  # NaN (too few events) in either window: no value
        parts.append(pd.DataFrame({"bucket": sums[long].index, "service": service, "value": value}))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["bucket", "service", "value"])
    return frame.dropna(subset=["value"])


# -- events from the data ------------------------------------------------------------------------


def stream_events(db: Database, start: datetime, end: datetime, bucket_seconds: int) -> pd.DataFrame:
    """Availability, latency and cache-hit events per bucket in [start, end): bucket, slo, service, good, total.

    A table that is missing gives no events for its objectives (its panels say why); other errors propagate.
    """
    parts = []
    try:
        usage = db.run("service_usage", start=start, end=end, bucket=bucket_seconds)
        up = usage.groupby(["bucket", "service"], as_index=False)[["up_samples", "samples"]].sum()
        parts.append(up.assign(slo="availability").rename(columns={"up_samples": "good", "samples": "total"}))
    except DataUnavailable:
        pass
    try:
        latency_ms = db.config.slo_latency_p95_ms
        requests = db.run("slo_requests", start=start, end=end, bucket=bucket_seconds, latency_ms=latency_ms)
        parts.append(
            requests.assign(slo="latency", service=MODEL_SERVER, good=requests["requests"] - requests["slow"]).rename(
                columns={"requests": "total"}
            )
        )
        parts.append(
            requests.assign(slo="cache_hit_rate", service=FEATURE_CACHE).rename(
                columns={"cache_hits": "good", "cache_lookups": "total"}
            )
        )
    except DataUnavailable:
        pass
    return _events(parts)


def accuracy_events(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    """Per prediction day in [start, end): predictions whose outcome has arrived (total) and agreed (good)."""
    try:
        counts = db.run("sentiment_confusion", start=start, end=end, symbol=[], model_version=None)
    except DataUnavailable:
        return _events([])
    days = accuracy(counts, ["day"]).rename(columns={"correct": "good", "n": "total"})
    return _events([days.assign(bucket=pd.to_datetime(days["day"]), slo="accuracy", service=MODEL_SERVER)])


def all_events(db: Database, start: datetime, end: datetime, bucket_seconds: int) -> pd.DataFrame:
    """Every objective's events: the streams per bucket, accuracy per day."""
    return _events([stream_events(db, start, end, bucket_seconds), accuracy_events(db, start, end)])


def _events(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p[EVENT_COLUMNS] for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in EVENT_COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    return frame.astype({"good": float, "total": float}).assign(bucket=pd.to_datetime(frame["bucket"]))


# -- the SLO table and the budget over time --------------------------------------------------------


STATUS_COLUMNS = [
    *("slo", "service", "promise", "target", "sli", "budget_left", "now", "now_window", "events"),
    *("partial", "data_days", "burn_1h", "burn_6h", "burn_3d", "p95_ms"),
]


def status_table(db: Database, end: datetime) -> pd.DataFrame:
    """One row per objective and service as of `end` (floored to 5 minutes): the SLO table's numbers.

    Returns STATUS_COLUMNS: now is the SLI over `now_window`, sli over the SLO window, p95_ms the latency
    objective's exact p95 over the last hour (NaN on the other rows). partial says the data begins after the
    SLO window does; data_days is how many days of the window it covers (window_covered).
    """
    config = db.config
    end = pd.Timestamp(end).floor(STEP).to_pydatetime()
    window = timedelta(days=config.slo_window_days)
    longest = max(window, *TABLE_WINDOWS)
    events = all_events(db, end - longest, end, int(STEP.total_seconds()))
    starts = data_starts(db) if not events.empty else {}
    rows = []
    for (slo, service), part in events.groupby(["slo", "service"], sort=True):
        objective = objectives(config)[slo]
        now = ACCURACY_NOW if objective.daily else NOW
        row = {"slo": slo, "service": service, "promise": objective.promise, "target": objective.target}
        sums = {w: _window_sums(part, end, w) for w in (window, now, *TABLE_WINDOWS)}
        good, total = sums[window]
        row |= {"sli": good / total if total else np.nan, "budget_left": budget_left(total - good, total, objective)}
        good, total = sums[now]
        row |= {"now": good / total if total else np.nan, "now_window": now, "events": sums[window][1]}
        covered = window_covered(starts[slo], [end], window, DAY if objective.daily else STEP)[0]
        row |= {"partial": covered < window, "data_days": covered / DAY}
        for w, name in zip(TABLE_WINDOWS, ("burn_1h", "burn_6h", "burn_3d"), strict=True):
            short = objective.daily and w < DAY  # a daily count cannot say how an hour went
            row[name] = np.nan if short else burn_rate(sums[w][1] - sums[w][0], sums[w][1], objective)
        rows.append(row)
    table = pd.DataFrame(rows, columns=STATUS_COLUMNS[:-1])
    latency = table["slo"] == "latency"
    p95 = db.run("slo_latency_p95", start=end - NOW, end=end)["p95_ms"].iloc[0] if latency.any() else np.nan
    return table.assign(p95_ms=np.where(latency, p95, np.nan))


def _window_sums(events: pd.DataFrame, end: datetime, window: timedelta) -> tuple[float, float]:
    inside = events[(events["bucket"] >= end - window) & (events["bucket"] < end)]
    return float(inside["good"].sum()), float(inside["total"].sum())


def budget_over_time(db: Database, start: datetime, end: datetime, bucket_seconds: int) -> pd.DataFrame:
    """Per bucket in [start, end): each objective's budget left over the SLO window ending with that bucket.

    Returns bucket, slo, service, budget_left, partial (the data begins after that window does: window_covered)
    and data_from (the first row of the objective's table). Accuracy is counted per day, so its line moves once
    a day.
    """
    config = db.config
    window = timedelta(days=config.slo_window_days)
    step = timedelta(seconds=bucket_seconds)
    events = all_events(db, start - window, end, bucket_seconds)
    starts = data_starts(db) if not events.empty else {}
    parts = []
    for (slo, service), part in events.groupby(["slo", "service"], sort=True):
        objective = objectives(config)[slo]
        series = part.groupby("bucket")[["good", "total"]].sum()
        every = DAY if objective.daily else step
        sums = rolling(series, window, every)
        left = budget_left(sums["total"] - sums["good"], sums["total"], objective)
        # The window ending with a bucket ends where the bucket does.
        partial = window_covered(starts[slo], sums.index + every, window, every) < window
        frame = pd.DataFrame(
            {
                "bucket": sums.index,
                "slo": slo,
                "service": service,
                "budget_left": left,
                "partial": partial,
                "data_from": starts[slo],
            }
        )
        parts.append(frame[(frame["bucket"] >= start) & (frame["bucket"] < end)])
    columns = ["bucket", "slo", "service", "budget_left", "partial", "data_from"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
