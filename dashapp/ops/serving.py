"""Serving metrics: the one definition of each, from request counts (ops_requests.sql, overview_kpis.sql) or exact
latency percentiles (ops_latency_quantiles.sql).

SQL counts and sorts; each function here divides and decides. Every function groups the rows by `keys` (a time
bucket and a model version on Operations, a period on Overview, a bucket alone for an alert) and returns those
keys, the counts behind the value, `value`, and the thresholds and status that apply (thresholds.py). A group with
fewer than `minimum` requests (or lookups) gets no row: its rate would be noise.
"""

from __future__ import annotations

import pandas as pd

from ..thresholds import Threshold, judged

MIN_REQUESTS = 50  # a bucket with fewer requests gives no rate or percentile worth paging for (1 of 7 is 14%)


def _ratio(
    rows: pd.DataFrame,
    keys: tuple[str, ...],
    part: str,
    whole: str,
    threshold: Threshold | None,
    minimum: int,
) -> pd.DataFrame:
    sums = rows.groupby(list(keys), as_index=False, sort=True)[[part, whole]].sum()
    sums = sums[sums[whole] >= max(minimum, 1)]  # no lookups: no rate at all, not 0
    value = sums[part].to_numpy(dtype=float) / sums[whole].to_numpy(dtype=float)
    return judged(sums.assign(value=value).reset_index(drop=True), threshold)


def error_rate(
    rows: pd.DataFrame, keys: tuple[str, ...] = ("bucket",), threshold: Threshold | None = None, minimum: int = 0
) -> pd.DataFrame:
    """The share of requests answered with a 5xx: server_errors / requests."""
    return _ratio(rows, keys, "server_errors", "requests", threshold, minimum)


def cache_hit_rate(
    rows: pd.DataFrame, keys: tuple[str, ...] = ("bucket",), threshold: Threshold | None = None, minimum: int = 0
) -> pd.DataFrame:
    """Feature-store cache hits per lookup (rows whose cache_hit is known): cache_hits / cache_lookups."""
    return _ratio(rows, keys, "cache_hits", "cache_lookups", threshold, minimum)


def latency_p95(rows: pd.DataFrame, threshold: Threshold | None = None, minimum: int = 0) -> pd.DataFrame:
    """The exact 95th percentile of latency in ms per row of ops_latency_quantiles.sql (p95_ms) as `value`."""
    rows = rows[rows["requests"] >= minimum]
    return judged(rows.assign(value=rows["p95_ms"].to_numpy(dtype=float)).reset_index(drop=True), threshold)


def traffic_share(rows: pd.DataFrame, minimum: int = 0) -> pd.DataFrame:
    """Per bucket and model version, its share of the bucket's requests."""
    total = rows.groupby("bucket")["requests"].transform("sum")
    kept = total >= max(minimum, 1)
    rows = rows[kept].assign(value=(rows["requests"] / total)[kept].to_numpy(dtype=float))
    return judged(rows.reset_index(drop=True), None)


def canary_share(rows: pd.DataFrame, minimum: int = 0) -> pd.DataFrame:
    """Per bucket served by two versions or more, the share of requests not served by the busiest one."""
    totals = rows.groupby("bucket")["requests"].agg(["sum", "max", "count"]).reset_index()
    # One version alone: no canary, no split to check.
    totals = totals[(totals["count"] > 1) & (totals["sum"] >= max(minimum, 1))]
    value = 1 - totals["max"].to_numpy(dtype=float) / totals["sum"].to_numpy(dtype=float)
    return judged(totals.assign(value=value).reset_index(drop=True), None)
