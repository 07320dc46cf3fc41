"""queries/quality_*.sql and the Data quality charts: counted in SQL, checked against pandas on crafted logs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dashapp.charts import get_chart, render
from dashapp.charts.quality import completeness_data, contract_data, values_data
from dashapp.contract import LABELS
from tests.fixtures import ALL, predictions, write_partitioned


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
    frame = predictions().assign(status=lambda f: f["status"].astype(str))  # text where the contract wants integers
    for folder in (data_dir / "predictions").iterdir():
        for path in folder.iterdir():
            path.unlink()
    write_partitioned(data_dir, "predictions", frame)
    rows = contract_data(db, {}).set_index("table")
    assert rows.loc["predictions", "status"] == "invalid"
    assert re.search(r"column status is \w*string, expected integer", rows.loc["predictions", "problems"])
    assert rows.loc["predictions", "extra_columns"] == "headline_words"  # the fixture's one input feature
    assert rows.loc["outcomes", "status"] == "ok"


def test_the_quality_panels_render_and_say_what_they_cover(db):
    for chart_id in ("quality.contract", "quality.completeness", "quality.values"):
        rendered = render(get_chart(chart_id), {"start": ["2024-03-01"], "end": ["2024-03-04"]}, db)
        assert rendered.figure["data"] and "data through" in rendered.coverage


def test_completeness_query_counts_one_tables_rows_and_values_and_refuses_other_tables(db):
    import pytest

    from tests.fixtures import outcomes

    got = db.run_on("outcomes", "quality_completeness", time_column="^ts$", start=ALL["start"], end=ALL["end"])
    want = outcomes()
    want = want[(want["ts"] >= ALL["start"]) & (want["ts"] < ALL["end"])]
    assert got.iloc[0].to_dict() == {"rows": len(want), **{c: int(n) for c, n in want.notna().sum().items()}}
    with pytest.raises(ValueError, match="not a contract table"):
        db.run_on("duckdb_settings()", "quality_completeness", time_column="^ts$", start=ALL["start"], end=ALL["end"])


def test_rows_per_bucket_and_their_newest_time_equal_pandas(db):
    got = db.run_on("predictions", "quality_rows", time_column="^ts$", start=ALL["start"], end=ALL["end"], bucket=86400)
    frame = predictions()
    want = frame.groupby(frame["ts"].dt.floor("D"))["ts"].agg(["size", "max"])
    assert got["bucket"].tolist() == want.index.tolist()
    assert got["rows"].tolist() == want["size"].tolist() and got["newest"].tolist() == want["max"].tolist()
