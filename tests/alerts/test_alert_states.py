"""The alert state machine: pending for exactly `for` buckets, firing, recovering, ok, no data."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashapp.alerts.states import Period, Thresholds, periods, run

T0 = datetime(2024, 3, 1)


def buckets(*values):
    return [(T0 + timedelta(hours=i), v) for i, v in enumerate(values)]


def states(thresholds, *values):
    return [step.state for step in run(thresholds, buckets(*values))]


PSI = Thresholds(">", warning=0.1, critical=0.25)


@pytest.mark.parametrize("for_buckets", [0, 1, 2, 5])
def test_for_delays_firing_by_exactly_that_many_buckets(for_buckets):
    thresholds = Thresholds(">", 0.1, 0.25, for_buckets=for_buckets)
    got = states(thresholds, 0.0, *[0.3] * 8)
    first_crossing = 1
    assert got.index("firing") == first_crossing + for_buckets
    assert got[first_crossing : first_crossing + for_buckets] == ["pending"] * for_buckets


def test_a_dip_before_for_elapses_starts_the_wait_again():
    thresholds = Thresholds(">", 0.1, None, for_buckets=2)
    got = states(thresholds, 0.2, 0.2, 0.0, 0.2, 0.2, 0.2)
    assert got == ["pending", "pending", "ok", "pending", "pending", "firing"]


def test_keep_firing_for_holds_the_alert_then_it_resolves():
    thresholds = Thresholds(">", 0.1, None, keep_firing_for=2)
    assert states(thresholds, 0.2, 0.0, 0.0, 0.0) == ["firing", "recovering", "recovering", "ok"]
    # The condition back while recovering: still the same firing period.
    steps = run(thresholds, buckets(0.2, 0.0, 0.3, 0.0, 0.0, 0.0))
    assert [s.state for s in steps] == ["firing", "recovering", "firing", "recovering", "recovering", "ok"]
    assert periods(thresholds, steps) == [Period(T0, T0 + timedelta(hours=5), "warning", 0.3)]


def test_severity_follows_the_value_and_the_period_keeps_the_worst():
    steps = run(PSI, buckets(0.05, 0.15, 0.4, 0.12, 0.02))
    assert [(s.state, s.severity) for s in steps] == [
        ("ok", None),
        ("firing", "warning"),
        ("firing", "critical"),
        ("firing", "warning"),
        ("ok", None),
    ]
    assert periods(PSI, steps) == [Period(T0 + timedelta(hours=1), T0 + timedelta(hours=4), "critical", 0.4)]


def test_a_below_threshold_rule_fires_on_low_values_and_its_peak_is_the_lowest():
    accuracy = Thresholds("<", warning=None, critical=0.55)
    steps = run(accuracy, buckets(0.8, 0.5, 0.45, 0.6))
    assert [s.state for s in steps] == ["ok", "firing", "firing", "ok"]
    assert periods(accuracy, steps)[0].peak == 0.45
    assert Thresholds("<=", 0.9, 0.7).level(0.9) == "warning"
    assert Thresholds("<", 0.9, 0.7).level(0.9) is None


def test_no_data_ends_a_pending_streak_but_a_firing_alert_keeps_firing():
    thresholds = Thresholds(">", 0.1, None, for_buckets=1)
    assert states(thresholds, 0.2, None, 0.2, 0.2) == ["pending", "nodata", "pending", "firing"]
    steps = run(thresholds, buckets(0.2, 0.3, None, None, 0.2, 0.0))
    assert [(s.state, s.severity) for s in steps][2:4] == [("firing", "warning")] * 2  # late outcomes: no resolve
    assert [s.state for s in steps] == ["pending", "firing", "firing", "firing", "firing", "ok"]
    assert periods(thresholds, steps) == [Period(T0 + timedelta(hours=1), T0 + timedelta(hours=5), "warning", 0.3)]
    assert states(thresholds, None, None) == ["nodata", "nodata"]


def test_a_period_still_firing_at_the_end_has_no_end():
    steps = run(PSI, buckets(0.0, 0.3, 0.3))
    assert periods(PSI, steps) == [Period(T0 + timedelta(hours=1), None, "critical", 0.3)]
    assert periods(PSI, run(PSI, buckets(0.0, 0.0))) == []
