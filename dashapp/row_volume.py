"""Is a day short of rows? Each day's rows against the same weekday in the weeks before it.

Traffic has a weekly rhythm (markets close at weekends, news slows), so a Saturday is read against
earlier Saturdays, not against the median of all days, which would mark every weekend red.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WEEKS = 4  # how many earlier same weekdays make a day's baseline
HISTORY = pd.Timedelta(weeks=WEEKS)  # how far before the first day to judge its rows must be counted


def weekday_baseline(rates: pd.Series, weeks: int = WEEKS) -> pd.Series:
    """Per day, the median rows of the same weekday over the `weeks` weeks before it, counting only the days
    that had rows (a lost day is no norm); NaN where none did.

    `rates` is indexed by every UTC day, gaps filled with 0, from `weeks` weeks before the first day to judge.
    """
    earlier = pd.concat([rates.shift(7 * w, freq="D").reindex(rates.index) for w in range(1, weeks + 1)], axis=1)
    return earlier.where(earlier > 0).median(axis=1, skipna=True)


def relative_rows(rates: pd.Series, every_day: bool, weeks: int = WEEKS) -> pd.DataFrame:
    """Per day: its rows per full day (`rates`), its weekday baseline and the ratio of the two.

    A day without rows is 0 (a shortfall) for a table expected to get rows every day and NaN (no judgement)
    for the others; a day with rows but no earlier same weekday with rows has no ratio either.
    """
    baseline = weekday_baseline(rates, weeks)
    relative = np.where(rates > 0, rates / baseline, 0.0 if every_day else np.nan)
    return pd.DataFrame({"rate": rates, "baseline": baseline, "relative": relative}, index=rates.index)
