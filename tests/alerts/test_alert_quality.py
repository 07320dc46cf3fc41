"""quality.missing_rate and the missing_values rule: the share of rows without a required value, as pandas counts it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from dashapp import demo
from dashapp.alerts.evaluate import evaluate
from dashapp.alerts.metrics import METRICS, TIMED, Span
from dashapp.alerts.rules import load_rules
from dashapp.config import Config
from dashapp.contract import TABLES
from dashapp.db import Database
from tests.fixtures import ALL, outcomes, predictions, write_partitioned

RULE = "missing_values"


def rule(config: Config):
    (found,) = [r for r in load_rules(config.alert_rules) if r.name == RULE]
    return found


def read_table(data_dir: Path, table: str) -> pd.DataFrame:
    folder, single = TABLES[table].locations(data_dir)
    frame = pd.read_parquet(folder if folder.is_dir() else single)
    time_column = TABLES[table].time_column
    return frame.assign(**{time_column: pd.to_datetime(frame[time_column])})


def pandas_missing_rate(data_dir: Path, start: datetime, end: datetime, bucket: str) -> pd.DataFrame:
    """Per time-stamped table, required column and bucket with rows: the share of NULLs, from the parquet files."""
    parts = []
    for table in TIMED:
        frame = read_table(data_dir, table)
        ts = frame[TABLES[table].time_column]
        frame = frame[(ts >= start) & (ts < end)]
        for column in TABLES[table].required_names:
            shares = frame[column].isna().groupby(frame[TABLES[table].time_column].dt.floor(bucket)).mean()
            parts.append(pd.DataFrame({"bucket": shares.index, "table": table, "column": column, "value": shares}))
    want = pd.concat(parts, ignore_index=True)
    return want.sort_values(["bucket", "table", "column"]).reset_index(drop=True)


def break_required_values(data_dir: Path) -> None:
    """Two of day 1's four predictions without a symbol, one of day 3's without a label; an outcome without truth."""
    frame = predictions()
    frame.loc[[0, 1], "symbol"] = None
    frame.loc[9, "label"] = None
    frame.loc[2, "cache_hit"] = None  # optional: never counted
    truth = outcomes()
    truth.loc[0, "true_label"] = None
    for table, rows in (("predictions", frame), ("outcomes", truth)):
        for path in (data_dir / table).rglob("*.parquet"):
            path.unlink()
        write_partitioned(data_dir, table, rows)


@pytest.mark.parametrize("bucket, seconds", [("1h", 3600), ("1D", 86400)])
def test_the_missing_rate_equals_pandas_per_table_required_column_and_bucket(db, data_dir, bucket, seconds):
    break_required_values(data_dir)
    got = METRICS["quality.missing_rate"].compute(db, Span(ALL["start"], ALL["end"], seconds))
    got = got.sort_values(["bucket", "table", "column"]).reset_index(drop=True)
    want = pandas_missing_rate(data_dir, ALL["start"], ALL["end"], bucket)
    assert got[["bucket", "table", "column"]].equals(want[["bucket", "table", "column"]])
    assert got["value"].tolist() == pytest.approx(want["value"].tolist())
    assert set(got["column"]) >= {"symbol", "label", "true_label"} and "cache_hit" not in set(got["column"])
    assert (
        (got["value"] > 0).sum() == (want["value"] > 0).sum() == 3
    )  # symbol, label and true_label, each in one bucket


def test_the_rule_fires_on_the_columns_pandas_finds_missing_and_stays_quiet_on_the_clean_fixture(db, config, data_dir):
    clean = evaluate(db, [rule(config)], ALL["start"], ALL["end"])
    assert clean and not [a for a in clean if a.periods]

    break_required_values(data_dir)
    found = evaluate(Database(config), [rule(config)], ALL["start"], ALL["end"])
    fired = {(a.labels["table"], a.labels["column"]): a.periods[0].severity for a in found if a.periods}
    daily = pandas_missing_rate(data_dir, ALL["start"], ALL["end"], "1D")
    worst = daily.groupby(["table", "column"])["value"].max()
    assert fired == {k: "critical" if v > 0.1 else "warning" for k, v in worst.items() if v > 0.01}
    assert set(fired) == {("predictions", "symbol"), ("predictions", "label"), ("outcomes", "true_label")}


def test_the_demo_misses_no_required_value_so_the_rule_does_not_fire_there(tmp_path):
    end = datetime(2024, 6, 28, 15, 30)
    demo.write_demo(tmp_path / "data", rows=20_000, days=7, seed=3, end=end)
    config = Config(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    db = Database(config)
    rates = METRICS["quality.missing_rate"].compute(db, Span(end - timedelta(days=7), end, 86400))
    assert set(rates["table"]) == {t for t in TIMED if db.sources([t])[t]} and (rates["value"] == 0).all()
    alerts = evaluate(db, [rule(config)], end - timedelta(days=7), end)
    assert alerts and all(a.state in ("ok", "nodata") and not a.periods for a in alerts)  # nodata: no rows that day
