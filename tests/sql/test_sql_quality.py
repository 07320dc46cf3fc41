"""queries/quality_*.sql and the Data quality charts: counted in SQL, checked against pandas on crafted logs."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from dashapp.charts import get_chart, render
from dashapp.charts.quality import (
    completeness_data,
    contract_data,
    duplicates_data,
    missing_data,
    missing_figure,
    outliers_data,
    rows_data,
    values_data,
)
from dashapp.contract import LABELS
from tests.fixtures import ALL, outcomes, predictions, write_partitioned


def broken_predictions() -> pd.DataFrame:
    """The fixture's predictions with every value rule broken at least once, on two days."""
    frame = predictions()
    frame.loc[0, "sentiment_score"] = 1.5
    frame.loc[1, "sentiment_score"] = np.nan  # pandas writes it as NULL: missing, not out of range
    frame.loc[2, "confidence"] = -0.1
    frame.loc[3, "label"] = "bullish"
    frame.loc[4, "label"] = None
    frame.loc[5, "request_id"] = None
    frame.loc[[6, 7], "request_id"] = frame.loc[8, "request_id"]  # three copies of one id
    frame.loc[9, "symbol"] = None
    return frame


def pandas_violations(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.assign(day=frame["ts"].dt.date)
    return out.groupby("day").apply(
        lambda d: pd.Series(
            {
                "rows": len(d),
                "score_out_of_range": int((d["sentiment_score"].notna() & ~d["sentiment_score"].between(-1, 1)).sum()),
                "confidence_out_of_range": int((d["confidence"].notna() & ~d["confidence"].between(0, 1)).sum()),
                "unknown_label": int((~d["label"].isin(LABELS)).sum()),
                "missing_request_id": int(d["request_id"].isna().sum()),
                "duplicate_request_id": int(d["request_id"].count() - d["request_id"].nunique()),
            }
        ),
        include_groups=False,
    )


def test_value_rules_are_counted_per_day_as_pandas_counts_them(db, data_dir):
    for folder in (data_dir / "predictions").iterdir():
        for path in folder.iterdir():
            path.unlink()
    frame = broken_predictions()
    write_partitioned(data_dir, "predictions", frame)
    got = db.run("quality_predictions", start=ALL["start"], end=ALL["end"], labels=list(LABELS)).set_index("day")
    want = pandas_violations(frame)
    assert got.index.tolist() == [pd.Timestamp(d) for d in want.index]
    assert got[want.columns].to_numpy().tolist() == want.to_numpy().tolist()
    assert (want.drop(columns="rows").sum() > 0).all()  # the crafted log breaks every rule
    values = values_data(db, {"start": ALL["start"], "end": ALL["end"]})
    assert "score outside [-1, 1]: 1" in values.attrs["notes"]


def test_completeness_counts_each_columns_values_as_pandas_notna(db, data_dir):
    for folder in (data_dir / "predictions").iterdir():
        for path in folder.iterdir():
            path.unlink()
    frame = broken_predictions()
    write_partitioned(data_dir, "predictions", frame)
    got = completeness_data(db, {"start": ALL["start"], "end": ALL["end"]})
    mine = got[got["table"] == "predictions"].set_index("column")
    want = frame.notna().sum()
    assert {c: int(mine.loc[c, "rows"] - mine.loc[c, "missing"]) for c in mine.index} == {
        c: int(want[c]) for c in mine.index
    }
    required = got[got["required"]]
    assert got["required"].iloc[: len(required)].all()  # required columns first, worst first
    assert required.iloc[0]["completeness"] == required["completeness"].min()
    assert mine.loc["symbol", "missing"] == 1 and mine.loc["ts", "missing"] == 0


def test_the_contract_check_names_a_mistyped_column_and_lists_extra_columns(db, data_dir):
    day = data_dir / "predictions" / "dt=2024-03-02" / "part-0.parquet"
    frame = pd.read_parquet(day)
    frame.assign(status=frame["status"].astype(str)).to_parquet(day, index=False)  # text where integers belong
    rows = contract_data(db, {}).set_index("table")
    assert rows.loc["predictions", "status"] == "invalid"
    problem = rows.loc["predictions", "problems"]
    assert re.match(r"predictions/dt=2024-03-02/part-0.parquet: column status is \w*string, expected integer", problem)
    assert rows.loc["predictions", "extra_columns"] == "headline_words"  # the fixture's one input feature
    assert rows.loc["outcomes", "status"] == "ok"


def test_the_quality_panels_render_and_say_what_they_cover(db):
    for chart_id in ("quality.contract", "quality.completeness", "quality.values"):
        rendered = render(get_chart(chart_id), {"start": ["2024-03-01"], "end": ["2024-03-04"]}, db)
        assert rendered.figure["data"] and "data through" in rendered.coverage


def test_completeness_per_column_counts_the_windows_values_as_pandas(db):
    frame = completeness_data(db, ALL)
    got = frame[frame["table"] == "outcomes"].set_index("column")
    want = outcomes()
    want = want[(want["ts"] >= ALL["start"]) & (want["ts"] < ALL["end"])]
    assert set(got["rows"]) == {len(want)}
    assert got["missing"].to_dict() == {c: int(n) for c, n in want.isna().sum().items()}


def test_a_one_table_query_refuses_what_is_not_a_contract_table(db):
    with pytest.raises(ValueError, match="not a contract table"):
        db.run_on(
            "duckdb_settings()", "quality_rows", time_column="^ts$", start=ALL["start"], end=ALL["end"], bucket=60
        )


def test_rows_per_bucket_and_their_newest_time_equal_pandas(db):
    got = db.run_on("predictions", "quality_rows", time_column="^ts$", start=ALL["start"], end=ALL["end"], bucket=86400)
    frame = predictions()
    want = frame.groupby(frame["ts"].dt.floor("D"))["ts"].agg(["size", "max"])
    assert got["bucket"].tolist() == want.index.tolist()
    assert got["rows"].tolist() == want["size"].tolist() and got["newest"].tolist() == want["max"].tolist()


def replace_predictions(data_dir, frame: pd.DataFrame) -> None:
    for folder in (data_dir / "predictions").iterdir():
        for path in folder.iterdir():
            path.unlink()
    write_partitioned(data_dir, "predictions", frame)


def seeded_predictions(rows: int = 300) -> pd.DataFrame:
    """Predictions over the fixture's three days with long-tailed, tied and missing numbers, for the IQR rule."""
    rng = np.random.default_rng(5)
    frame = pd.concat([predictions()] * (rows // len(predictions()) + 1), ignore_index=True).iloc[:rows].copy()
    frame["ts"] = (pd.Timestamp("2024-03-01") + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 86400, rows)), "s")).astype(
        "datetime64[us]"
    )
    frame["request_id"] = [f"s{i:04d}" for i in range(rows)]
    frame["latency_ms"] = np.round(60 * rng.lognormal(0, 0.8, rows), 1)
    frame["sentiment_score"] = np.round(rng.uniform(-1, 1, rows), 1)  # many ties
    frame.loc[rng.choice(rows, 12, replace=False), "sentiment_score"] = np.nan  # NULL in parquet: no value
    frame["headline_words"] = rng.poisson(12, rows).astype("int32")
    return frame


def numpy_outliers(values: pd.Series) -> dict:
    values = values.dropna().to_numpy(dtype=float)
    q1, q3 = np.percentile(values, [25, 75])
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    below, above = int((values < low).sum()), int((values > high).sum())
    return {"n": len(values), "q1": q1, "q3": q3, "low": low, "high": high, "below": below, "above": above}


def test_outliers_follow_the_iqr_rule_as_numpy_computes_it(db, data_dir):
    frame = seeded_predictions()
    replace_predictions(data_dir, frame)
    window = {"start": datetime(2024, 3, 1, 6), "end": datetime(2024, 3, 3, 12)}  # cuts into the first and last day
    columns = ["latency_ms", "sentiment_score", "headline_words", "confidence"]
    got = db.run_on("predictions", "quality_outliers", time_column="^ts$", columns=columns, **window)
    inside = frame[(frame["ts"] >= window["start"]) & (frame["ts"] < window["end"])]
    assert got["position"].tolist() == [1, 2, 3, 4]
    for position, column in enumerate(columns, 1):
        row = got.set_index("position").loc[position]
        want = numpy_outliers(inside[column])
        assert {k: row[k] for k in want} == pytest.approx(want, rel=1e-12, abs=1e-12), column
    assert got["above"].iloc[0] > 0  # the long tail of latency has outliers to count

    shown = outliers_data(db, window).set_index(["table", "column"])
    latency = shown.loc[("predictions", "latency_ms")]
    assert latency["outside"] == latency["below"] + latency["above"] == got["below"].iloc[0] + got["above"].iloc[0]
    assert shown.index.isin([("predictions", "headline_words"), ("trades", "price")]).sum() == 2  # feature, contract
    assert ("predictions", "status") not in shown.index  # an HTTP code is not a measurement


def test_outlier_columns_are_checked_against_the_tables_real_columns(db):
    with pytest.raises(ValueError, match="names columns outcomes does not have"):
        db.run_on("outcomes", "quality_outliers", time_column="^ts$", columns=["no_such"], **ALL)


def test_duplicates_count_request_ids_repeated_anywhere_in_the_window_as_pandas_does(db, data_dir):
    frame = predictions()
    frame.loc[9, "request_id"] = "r01"  # day 3 repeats an id of day 1
    frame.loc[[5, 6], "request_id"] = "r08"  # three copies of r08 on day 2
    frame.loc[10, "request_id"] = None
    replace_predictions(data_dir, frame)
    got = db.run_on("predictions", "quality_duplicates", time_column="^ts$", **ALL).iloc[0]
    ids = frame.dropna(subset=["request_id"])
    copies = ids.groupby("request_id").agg(n=("ts", "size"), days=("ts", lambda ts: ts.dt.date.nunique()))
    repeated = copies[copies["n"] > 1].sort_values("n", ascending=False)
    assert got["with_id"] == len(ids)
    assert got["repeated_ids"] == len(repeated) == 2
    assert got["extra_copies"] == (repeated["n"] - 1).sum() == 3
    assert got["across_days"] == (repeated["days"] > 1).sum() == 1
    assert list(got["examples"]) == repeated.index.tolist() == ["r08", "r01"]
    # Within a day, the value rules see only r08's copies: the repeat across days is this query's.
    per_day = db.run("quality_predictions", **ALL, labels=list(LABELS))["duplicate_request_id"].sum()
    assert per_day == 2
    shown = duplicates_data(db, ALL).set_index("table")
    assert shown.loc["predictions", "examples"] == "r08, r01" and shown.loc["outcomes", "repeated_ids"] == 0


def test_completeness_by_bucket_counts_each_days_values_as_pandas_notna(db, data_dir):
    frame = broken_predictions()
    replace_predictions(data_dir, frame)
    got = db.run_on("predictions", "quality_completeness_by_bucket", time_column="^ts$", bucket=86400, **ALL)
    want = frame.groupby(frame["ts"].dt.floor("D")).agg(lambda c: c.notna().sum())
    assert got["bucket"].tolist() == want.index.tolist()
    assert got["rows"].tolist() == frame.groupby(frame["ts"].dt.floor("D")).size().tolist()
    assert got[list(frame.columns)].to_numpy().tolist() == want[list(frame.columns)].to_numpy().tolist()


def test_rows_per_day_shows_a_day_without_rows_and_judges_no_day_without_an_earlier_same_weekday(db, data_dir):
    frame = predictions()
    replace_predictions(data_dir, frame[frame["ts"].dt.day != 2])  # day 2 lost
    got = rows_data(db, ALL).set_index(["table", "day"])
    days = pd.date_range("2024-03-01", periods=3, freq="D")
    assert got.loc["predictions"]["rows"].tolist() == [4, 0, 3]
    assert got.loc["predictions"]["weekday_median"].isna().all()  # the log starts on 1 March: no earlier weeks
    relative = got.loc["predictions"]["relative"]
    assert relative.iloc[1] == 0 and relative.iloc[[0, 2]].isna().all()  # expected daily: a lost day still shows
    assert got.loc["pipeline_runs"].index.tolist() == days.tolist()  # every table, every day of the window
    market = got.loc["market"]  # a bar on Friday 1 March, none at the weekend: no shortfall
    assert market["rows"].tolist() == [2, 0, 0] and market["relative"].iloc[1:].isna().all()


def weekly_predictions(wednesday_drop: bool) -> pd.DataFrame:
    """Five weeks of predictions from Monday 5 Feb 2024: 100 a weekday, 20 a weekend day; the last Wednesday
    (6 March) 30 if `wednesday_drop`."""
    days = pd.date_range("2024-02-05", "2024-03-10", freq="D")
    counts = [20 if day.weekday() >= 5 else 100 for day in days]
    if wednesday_drop:
        counts[days.get_loc(pd.Timestamp("2024-03-06"))] = 30
    ts = pd.DatetimeIndex(
        [day + pd.Timedelta(hours=24) * (i + 0.5) / n for day, n in zip(days, counts, strict=True) for i in range(n)]
    )
    frame = predictions()
    rows = frame.iloc[np.arange(len(ts)) % len(frame)].reset_index(drop=True)
    return rows.assign(ts=ts.astype("datetime64[us]"), request_id=[f"w{i}" for i in range(len(ts))])


LAST_WEEK = {"start": datetime(2024, 3, 4), "end": datetime(2024, 3, 11)}


def test_rows_per_day_reads_weekends_against_earlier_weekends_and_still_marks_a_wednesday_drop(db, data_dir):
    replace_predictions(data_dir, weekly_predictions(wednesday_drop=False))
    steady = rows_data(db, LAST_WEEK).set_index(["table", "day"]).loc["predictions"]
    assert steady["rows"].tolist() == [100] * 5 + [20] * 2
    assert steady["weekday_median"].tolist() == [100] * 5 + [20] * 2
    assert steady["relative"].tolist() == [1.0] * 7  # low weekends are their own norm: no day marked

    replace_predictions(data_dir, weekly_predictions(wednesday_drop=True))
    dropped = rows_data(db, LAST_WEEK).set_index(["table", "day"]).loc["predictions"]
    assert dropped.loc[pd.Timestamp("2024-03-06"), "relative"] == pytest.approx(0.3)
    assert dropped["relative"].drop(pd.Timestamp("2024-03-06")).tolist() == [1.0] * 6
    # A window from noon counts its first day for the half inside it: 50 rows in half a day are 100 a day.
    half = rows_data(db, {**LAST_WEEK, "start": datetime(2024, 3, 4, 12)}).set_index(["table", "day"])
    assert half.loc[("predictions", pd.Timestamp("2024-03-04")), ["rows", "relative"]].tolist() == [50, 1.0]


def test_the_missing_values_heatmap_shows_the_gappy_columns_share_per_day(db, data_dir):
    frame = broken_predictions()
    replace_predictions(data_dir, frame)
    data = missing_data(db, ALL)
    (heatmap,) = missing_figure(data, ALL).data
    shares = frame.set_index(frame["ts"].dt.floor("D")).isna().groupby(level=0).mean()
    # Required columns first; cache_hit is optional (empty by design), so it is never drawn.
    assert list(heatmap.y) == [f"predictions · {c}" for c in ("label", "request_id", "sentiment_score", "symbol")]
    for name, row in zip(heatmap.y, np.asarray(heatmap.z, dtype=float), strict=True):
        want = shares[name.split(" · ")[1]].clip(upper=0.1).to_numpy()
        assert row.tolist() == pytest.approx(want.tolist())
    assert "4 required columns miss values on some day" in data.attrs["notes"]
