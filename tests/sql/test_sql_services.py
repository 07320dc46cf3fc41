"""queries/service_*.sql and slo_*.sql on the fixture tables: per-bucket usage, up/down runs, health, SLO events."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from tests.fixtures import ALL, DAY1, DAY2, DAY3, DAY4, SERVICE_DOWN_AT, assert_rows, service_metrics, write_partitioned

DAY = 86400
SAMPLES = service_metrics()


def pct(values, q: float) -> float:
    return float(np.quantile(values, q, method="linear"))


def test_service_usage_per_day_and_instance_equals_pandas(db):
    frame = db.run("service_usage", **ALL, bucket=DAY)
    grouped = SAMPLES.assign(bucket=SAMPLES["ts"].dt.floor("D")).groupby(["bucket", "service", "instance"])
    expected = [
        {
            "bucket": bucket.to_pydatetime(),
            "service": service,
            "instance": instance,
            "samples": len(part),
            "up_samples": int(part["up"].sum()),
            "cpu_pct": part["cpu_pct"].mean(),
            "memory_pct": part["memory_pct"].mean(),
            "disk_pct": part["disk_pct"].max(),
        }
        for (bucket, service, instance), part in grouped
    ]
    assert_rows(frame, expected)
    # db-0 on day 2: four samples, one down.
    row = frame[(frame["bucket"] == DAY2) & (frame["instance"] == "db-0")].iloc[0]
    assert (row["samples"], row["up_samples"]) == (4, 3)


def test_service_states_cut_each_instance_into_up_and_down_runs(db):
    frame = db.run("service_states", **ALL)
    db0 = frame[frame["instance"] == "db-0"]
    six_hours = timedelta(hours=6)
    # Samples 6 hours apart vouch for 10 minutes each: every sample is its own run, the silence between them a gap.
    assert len(db0) == 12 and db0["samples"].eq(1).all()
    down = db0[db0["up"] == 0].iloc[0]
    assert (down["run_start"], down["run_end"]) == (SERVICE_DOWN_AT, SERVICE_DOWN_AT + timedelta(minutes=10))
    assert db0["run_start"].diff().dropna().eq(six_hours).all()


def test_service_states_join_close_samples_into_runs(db, data_dir):
    ts = pd.date_range("2024-03-05 00:00", periods=10, freq="1min").as_unit("us")
    up = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
    frame = pd.DataFrame(
        {"ts": ts, "service": "cache", "instance": "c-0", "up": up, "cpu_pct": 1.0, "memory_pct": 1.0, "disk_pct": 1.0}
    )
    write_partitioned(data_dir, "service_metrics", frame)
    runs = db.run("service_states", start=datetime(2024, 3, 5), end=datetime(2024, 3, 6))
    assert runs[["up", "samples"]].values.tolist() == [[1, 3], [0, 2], [1, 5]]
    assert runs["run_end"].tolist()[:2] == [ts[3], ts[5]]  # a run lasts until the next state's first sample
    assert runs["run_end"].iloc[-1] == ts[-1]  # the newest sample vouches for nothing beyond itself


def test_service_health_per_service_equals_pandas(db):
    frame = db.run("service_health", **ALL)
    expected = []
    for service, part in SAMPLES.groupby("service"):
        newest = part.sort_values("ts").groupby("instance").tail(1)
        down = part[part["up"] == 0]
        expected.append(
            {
                "service": service,
                "instances": part["instance"].nunique(),
                "instances_up": int((newest["up"] > 0).sum()),
                "samples": len(part),
                "down_samples": len(down),
                "last_down": down["ts"].max().to_pydatetime() if len(down) else None,
                "last_seen": part["ts"].max().to_pydatetime(),
                "probe_p50_ms": pct(part["probe_ms"].dropna(), 0.5),
                "probe_p95_ms": pct(part["probe_ms"].dropna(), 0.95),
            }
        )
    assert_rows(frame, expected)


def test_slo_requests_count_slow_requests_and_cache_lookups(db):
    frame = db.run("slo_requests", start=DAY1, end=DAY4, bucket=DAY, latency_ms=300.0)
    expected = [
        {"bucket": DAY1, "requests": 4, "slow": 1, "cache_hits": 2, "cache_lookups": 3},  # r03 at 300 ms is slow
        {"bucket": DAY2, "requests": 4, "slow": 1, "cache_hits": 2, "cache_lookups": 4},  # r07 at 1,500 ms
        {"bucket": DAY3, "requests": 3, "slow": 1, "cache_hits": 3, "cache_lookups": 3},  # r11
    ]
    assert_rows(frame, expected)


def test_slo_latency_p95_is_exact_over_every_request(db):
    frame = db.run("slo_latency_p95", start=DAY1, end=DAY4)
    latencies = [100.0, 120.0, 300.0, 80.0, 90.0, 250.0, 1500.0, 110.0, 95.0, 105.0, 400.0]
    assert_rows(frame, [{"p95_ms": pct(latencies, 0.95), "requests": 11}])
