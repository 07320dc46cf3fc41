"""dashapp/row_volume.py: a day's rows against the median of the same weekday in the weeks before it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashapp.row_volume import relative_rows, weekday_baseline

DAYS = pd.date_range("2024-02-05", periods=35, freq="D")  # five weeks from a Monday


def weekly(wednesday: float | None = None, lost: str | None = None) -> pd.Series:
    """100 rows a weekday, 20 a weekend day; the last Wednesday's rows replaced, or one day lost."""
    rates = pd.Series(np.where(DAYS.day_of_week >= 5, 20.0, 100.0), index=DAYS)
    if wednesday is not None:
        rates[pd.Timestamp("2024-03-06")] = wednesday
    if lost is not None:
        rates[pd.Timestamp(lost)] = 0.0
    return rates


def test_low_weekends_and_steady_weekdays_mark_no_day():
    judged = relative_rows(weekly(), every_day=True)
    assert judged["relative"].iloc[7:].tolist() == [1.0] * 28  # every day after the first week: its own norm
    assert judged["baseline"].iloc[28:].tolist() == [100.0] * 5 + [20.0] * 2
    assert judged["relative"].iloc[:7].isna().all()  # the first week has no earlier same weekday


def test_a_wednesday_drop_is_still_marked():
    judged = relative_rows(weekly(wednesday=30.0), every_day=True)
    assert judged.loc["2024-03-06", "relative"] == 0.3
    assert (judged["relative"].iloc[7:].drop(pd.Timestamp("2024-03-06")) == 1.0).all()


def test_the_baseline_is_the_median_of_the_last_four_same_weekdays_with_rows():
    rates = pd.Series(0.0, index=DAYS)
    mondays = DAYS[DAYS.day_of_week == 0]  # 5 Feb, 12 Feb, 19 Feb, 26 Feb, 4 Mar
    rates[mondays] = [500.0, 10.0, 40.0, 0.0, 70.0]  # 26 Feb lost: no norm
    baseline = weekday_baseline(rates)
    assert baseline[mondays[-1]] == np.median([500.0, 10.0, 40.0])
    assert baseline[mondays[1]] == 500.0 and np.isnan(baseline[mondays[0]])
    assert np.isnan(baseline[DAYS[1]])  # no Tuesday had rows


def test_a_day_without_rows_is_a_shortfall_only_for_a_table_expected_every_day():
    daily = relative_rows(weekly(lost="2024-03-09"), every_day=True)
    now_and_then = relative_rows(weekly(lost="2024-03-09"), every_day=False)
    assert daily.loc["2024-03-09", "relative"] == 0 and np.isnan(now_and_then.loc["2024-03-09", "relative"])
    # The lost Saturday is left out of the next Saturday's norm rather than halving it.
    assert relative_rows(weekly(lost="2024-03-02"), every_day=True).loc["2024-03-09", "baseline"] == 20.0
