"""Fixture data as code (datasette's fixtures.py): tiny contract tables and the writers that lay them out.

The rows are picked by hand so that every expected number in tests/sql can be worked out on
paper. Three days of predictions, 2024-03-01 .. 2024-03-03, written as dt= hive partitions.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from flask_caching.backends import FileSystemCache
from werkzeug.security import generate_password_hash

from dashapp.config import Config

DAY1, DAY2, DAY3, DAY4 = (datetime(2024, 3, d) for d in (1, 2, 3, 4))
MILLION_END = datetime(2026, 11, 20)  # where the million-row demo (conftest.million) ends
# A window that holds every fixture row.
ALL = {"start": DAY1, "end": DAY4}

PREDICTION_COLUMNS = (
    "ts",
    "request_id",
    "symbol",
    "model_version",
    "sentiment_score",
    "confidence",
    "label",
    "latency_ms",
    "status",
    "cache_hit",
    "headline_words",  # the one input feature
)
# fmt: off
PREDICTION_ROWS = [
    ("2024-03-01 09:00:00", "r01", "AAPL", "v1", 0.8, 0.90, "positive", 100.0, 200, True, 12),
    ("2024-03-01 09:20:00", "r02", "MSFT", "v1", -0.5, 0.70, "negative", 120.0, 200, False, 8),
    ("2024-03-01 10:05:00", "r03", "AAPL", "v2", 0.1, 0.60, "neutral", 300.0, 500, None, 15),
    ("2024-03-01 23:59:59", "r04", "TSLA", "v1", 0.6, 0.80, "positive", 80.0, 200, True, 9),
    # Exactly midnight: the first row of day 2, and the row that a window ending at DAY2 leaves out.
    ("2024-03-02 00:00:00", "r05", "AAPL", "v1", -0.2, 0.55, "neutral", 90.0, 404, True, 11),
    ("2024-03-02 08:30:00", "r06", "MSFT", "v2", 0.7, 0.95, "positive", 250.0, 200, True, 20),
    ("2024-03-02 08:45:00", "r07", "TSLA", "v1", -0.9, 0.85, "negative", 1500.0, 503, False, 7),
    ("2024-03-02 12:00:00", "r08", "AAPL", "v2", 0.3, 0.65, "positive", 110.0, 200, False, 14),
    ("2024-03-03 06:00:00", "r09", "MSFT", "v1", 0.0, 0.50, "neutral", 95.0, 429, True, 10),
    ("2024-03-03 06:10:00", "r10", "AAPL", "v1", 0.9, 0.99, "positive", 105.0, 200, True, 13),
    ("2024-03-03 18:00:00", "r11", "TSLA", "v2", -0.4, 0.60, "negative", 400.0, 500, True, 6),
]
# fmt: on

OUTCOME_ROWS = [
    # request_id, ts (arrival), true_label; r04, r05, r09 and r11 have no outcome yet.
    ("r01", "2024-03-01 12:00:00", "positive"),  # correct
    ("r02", "2024-03-01 12:00:00", "neutral"),  # wrong
    ("r03", "2024-03-02 01:00:00", "neutral"),  # correct
    ("r06", "2024-03-02 10:00:00", "positive"),  # correct
    ("r07", "2024-03-03 09:00:00", "negative"),  # correct
    ("r08", "2024-03-03 09:00:00", "negative"),  # wrong
    ("r10", "2024-03-03 20:00:00", "positive"),  # correct
]

PIPELINE_COLUMNS = (
    "pipeline",
    "stage",
    "run_id",
    "started_at",
    "finished_at",
    "status",
    "rows_in",
    "rows_out",
    "error",
)
# fmt: off
PIPELINE_ROWS = [
    # ingest: i1 ok, i2 and i3 fail back to back (one episode), i4 ok.
    ("ingest", "fetch", "i1", "2024-03-01 01:00:00", "2024-03-01 01:00:30", "success", 100, 100, None),
    ("ingest", "parse", "i1", "2024-03-01 01:00:30", "2024-03-01 01:01:40", "success", 100, 98, None),
    ("ingest", "fetch", "i2", "2024-03-02 01:00:00", "2024-03-02 01:00:20", "success", 120, 120, None),
    ("ingest", "parse", "i2", "2024-03-02 01:00:20", "2024-03-02 01:00:25", "failed", 120, 0, "schema mismatch"),
    ("ingest", "fetch", "i3", "2024-03-02 13:00:00", "2024-03-02 13:05:00", "failed", 0, 0, "timeout"),
    ("ingest", "fetch", "i4", "2024-03-03 01:00:00", "2024-03-03 01:00:40", "success", 90, 90, None),
    ("ingest", "parse", "i4", "2024-03-03 01:00:40", "2024-03-03 01:02:00", "success", 90, 90, None),
    # train: t2 fails between two good runs.
    ("train", "fit", "t1", "2024-03-01 02:00:00", "2024-03-01 02:10:00", "success", 98, 1, None),
    ("train", "fit", "t2", "2024-03-02 02:00:00", "2024-03-02 02:01:00", "failed", 120, 0, "OOM"),
    ("train", "fit", "t3", "2024-03-03 02:00:00", "2024-03-03 02:20:00", "success", 90, 1, None),
]
# fmt: on


def predictions() -> pd.DataFrame:
    frame = pd.DataFrame(PREDICTION_ROWS, columns=list(PREDICTION_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[us]")
    frame["cache_hit"] = frame["cache_hit"].astype("boolean")
    frame["status"] = frame["status"].astype("int32")
    frame["headline_words"] = frame["headline_words"].astype("int32")
    return frame


def outcomes() -> pd.DataFrame:
    frame = pd.DataFrame(OUTCOME_ROWS, columns=["request_id", "ts", "true_label"])
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[us]")
    return frame


def reference() -> pd.DataFrame:
    """The training-time baseline: the one input feature, the label and the score."""
    return pd.DataFrame(
        {
            "headline_words": pd.array([10, 12, 8, 15, 9, 11, 14, 7, 13, 10], dtype="int32"),
            "label": ["positive", "neutral", "negative", "positive", "neutral"] * 2,
            "sentiment_score": [0.6, 0.0, -0.5, 0.8, 0.1, 0.5, 0.7, -0.6, -0.1, 0.2],
        }
    )


def pipeline_runs() -> pd.DataFrame:
    frame = pd.DataFrame(PIPELINE_ROWS, columns=list(PIPELINE_COLUMNS))
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


def write_partitioned(data_dir: Path, table: str, frame: pd.DataFrame, time_column: str = "ts") -> list[Path]:
    """Write one dt=YYYY-MM-DD/part-0.parquet per day of `time_column`; return the files written."""
    written = []
    for day, part in frame.groupby(frame[time_column].dt.date, sort=True):
        folder = data_dir / table / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "part-0.parquet"
        part.to_parquet(path, index=False)
        written.append(path)
    return written


def write_single(data_dir: Path, table: str, frame: pd.DataFrame) -> Path:
    path = data_dir / f"{table}.parquet"
    frame.to_parquet(path, index=False)
    return path


def publish_day(data_dir: Path, day: datetime, rows: int = 12) -> Path:
    """Publish a new dt= partition of predictions as a pipeline would: write a dot-name, then rename it in.

    `rows` requests spread over the day's first hours, every one a 200 from v1 on AAPL.
    """
    frame = predictions().iloc[[0]].loc[[0] * rows].reset_index(drop=True)
    frame["ts"] = [pd.Timestamp(day) + pd.Timedelta(minutes=20 * i) for i in range(rows)]
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    frame["request_id"] = [f"new-{day:%m%d}-{i}" for i in range(rows)]
    folder = data_dir / "predictions" / f"dt={day:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / ".part-0.parquet"
    frame.to_parquet(temporary, index=False)
    return temporary.rename(folder / "part-0.parquet")


# Backtests: seeded, not hand-picked (their numbers are checked against QuantStats, not on paper).
BACKTEST_DAYS = pd.bdate_range("2023-01-02", "2024-03-29")
BACKTEST_PERIOD = {"from": ["2023-01-02"], "to": ["2024-03-29"]}
BACKTEST_RUNS = [  # run_id, agent, agent_version, kind, created_at, first day
    ("bt-ppo-2.0", "ppo", "2.0", "backtest", "2024-04-01 09:00", "2023-01-02"),
    ("bt-ppo-2.1", "ppo", "2.1", "backtest", "2024-04-01 10:00", "2023-01-02"),
    ("paper-ppo-2.1", "ppo", "2.1", "paper", "2024-01-02 13:00", "2024-01-02"),
]
BACKTEST_SYMBOLS = ("AAPL", "MSFT")


def backtests() -> dict[str, pd.DataFrame]:
    """backtest_runs, backtest_returns, trades and market for three runs of two agent versions."""
    rng = np.random.default_rng(11)
    benchmark = rng.normal(0.0004, 0.011, len(BACKTEST_DAYS))
    closes = {s: 100 * np.cumprod(1 + rng.normal(0.0003, 0.015, len(BACKTEST_DAYS))) for s in BACKTEST_SYMBOLS}
    returns, trades = [], []
    for run_id, _, version, _, _, first in BACKTEST_RUNS:
        days = BACKTEST_DAYS[BACKTEST_DAYS >= first]
        edge = 0.0006 if version == "2.1" else 0.0002
        strategy = 0.4 * benchmark[-len(days) :] + rng.normal(edge, 0.008, len(days))
        returns.append(pd.DataFrame({"run_id": run_id, "ts": days.date, "strategy_return": strategy,
                                     "benchmark_return": benchmark[-len(days) :], "exposure": 0.8}))  # fmt: skip
        for symbol in BACKTEST_SYMBOLS:
            held = np.sign(rng.normal(size=len(days)).cumsum())
            change = np.diff(np.concatenate([[0.0], held]))
            action = np.where(change > 0, "buy", np.where(change < 0, "sell", "hold"))
            trades.append(pd.DataFrame({"run_id": run_id, "ts": (days + pd.Timedelta(hours=20)).as_unit("us"),
                                        "symbol": symbol, "action": action, "quantity": np.abs(change) * 10,
                                        "price": closes[symbol][-len(days) :]}))  # fmt: skip
    runs = pd.DataFrame(
        [r[:5] for r in BACKTEST_RUNS], columns=["run_id", "agent", "agent_version", "kind", "created_at"]
    ).assign(created_at=lambda f: pd.to_datetime(f["created_at"]).astype("datetime64[us]"))
    market = pd.concat(
        pd.DataFrame({"ts": BACKTEST_DAYS.date, "symbol": s, "close": closes[s]}) for s in BACKTEST_SYMBOLS
    )
    return {
        "backtest_runs": runs,
        "backtest_returns": pd.concat(returns, ignore_index=True),
        "trades": pd.concat(trades, ignore_index=True),
        "market": market,
    }


def write_all(data_dir: Path) -> Path:
    """Write predictions and outcomes by day, and every other contract table as a single file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_partitioned(data_dir, "predictions", predictions())
    write_partitioned(data_dir, "outcomes", outcomes())
    write_single(data_dir, "pipeline_runs", pipeline_runs())
    write_single(data_dir, "reference", reference())
    for table, frame in backtests().items():
        write_single(data_dir, table, frame)
    write_single(data_dir, "training_runs", training_runs())
    write_single(data_dir, "training_metrics", training_metrics())
    write_partitioned(data_dir, "service_metrics", service_metrics())
    return data_dir


SERVICE_DOWN_AT = datetime(2024, 3, 2, 6)  # db-0's one failed health check


def service_metrics() -> pd.DataFrame:
    """Three instances of two services sampled every 6 hours over the three days; db-0 is down once.

    db-0's CPU and memory climb by 1 a sample, model-server-0's by 2; model-server-1 stays flat.
    """
    rows = []
    for i, ts in enumerate(pd.date_range(DAY1, periods=12, freq="6h")):
        down = ts == SERVICE_DOWN_AT
        rows += [
            (ts, "database", "db-0", 0 if down else 1, 10.0 + i, 50.0 + i, 40.0, None if down else 4.0 + i),
            (ts, "model-server", "model-server-0", 1, 30.0 + 2 * i, 60.0 + 2 * i, 38.0, 8.0),
            (ts, "model-server", "model-server-1", 1, 30.0, 55.0, 38.0, 9.0),
        ]
    columns = ["ts", "service", "instance", "up", "cpu_pct", "memory_pct", "disk_pct", "probe_ms"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(ts=frame["ts"].astype("datetime64[us]"), probe_ms=frame["probe_ms"].astype(float))


def training_runs() -> pd.DataFrame:
    """Two versions, v1 trained twice: the last run of each is the one the Sentiment page compares."""
    return pd.DataFrame(
        {
            "run_id": ["t1", "t2", "t3"],
            "model_version": ["v1", "v1", "v2"],
            "finished_at": pd.to_datetime(["2024-01-10", "2024-02-10", "2024-02-20"]).astype("datetime64[us]"),
            "accuracy": [0.80, 0.84, 0.88],
            "f1": [0.78, 0.83, 0.86],
        }
    )


def training_metrics() -> pd.DataFrame:
    """Three logged steps of loss and val_accuracy per training run; each run's last val_accuracy is its accuracy.

    t2 logs step 20 twice (a resumed run): the later point is the one that counts.
    """
    rows = [
        ("t1", "loss", 10, "2024-01-10 01:00", 0.90),
        ("t1", "loss", 20, "2024-01-10 02:00", 0.60),
        ("t1", "loss", 30, "2024-01-10 03:00", 0.50),
        ("t1", "val_accuracy", 10, "2024-01-10 01:00", 0.70),
        ("t1", "val_accuracy", 20, "2024-01-10 02:00", 0.78),
        ("t1", "val_accuracy", 30, "2024-01-10 03:00", 0.80),
        ("t2", "loss", 10, "2024-02-10 01:00", 0.80),
        ("t2", "loss", 20, "2024-02-10 02:00", 0.55),
        ("t2", "loss", 20, "2024-02-10 02:30", 0.52),
        ("t2", "loss", 30, "2024-02-10 03:00", 0.40),
        ("t2", "val_accuracy", 10, "2024-02-10 01:00", 0.75),
        ("t2", "val_accuracy", 30, "2024-02-10 03:00", 0.84),
        ("t3", "loss", 10, "2024-02-20 01:00", 0.70),
        ("t3", "loss", 20, "2024-02-20 02:00", 0.45),
        ("t3", "loss", 30, "2024-02-20 03:00", 0.30),
        ("t3", "val_accuracy", 10, "2024-02-20 01:00", 0.80),
        ("t3", "val_accuracy", 20, "2024-02-20 02:00", 0.86),
        ("t3", "val_accuracy", 30, "2024-02-20 03:00", 0.88),
    ]
    frame = pd.DataFrame(rows, columns=["run_id", "key", "step", "ts", "value"])
    return frame.assign(ts=pd.to_datetime(frame["ts"]).astype("datetime64[us]"))


def chart_args(chart_id: str, empty: bool = False) -> dict[str, list[str]]:
    """URL arguments that select the fixture data (or a stretch of time without any) for a chart."""
    if chart_id.startswith("backtest."):
        return {"from": ["2022-01-03"], "to": ["2022-01-07"]} if empty else dict(BACKTEST_PERIOD)
    return (
        {"start": ["2023-01-01"], "end": ["2023-01-08"]} if empty else {"start": ["2024-03-01"], "end": ["2024-03-04"]}
    )


def evaluate_alerts(config, at: datetime = DAY4) -> None:
    """Run the alert scheduler once as of `at` into the config's state store, which the alert readers read."""
    from dashapp.alerts.rules import configured_rules
    from dashapp.runner import tick, worker_database

    server, db = worker_database(config)
    with server.app_context():
        outcome = tick(db, configured_rules(config), at, rebuild=True, warm=False)
    assert outcome.evaluated, outcome.reason


def new_partition(data_dir: Path, day: str, request_id: str = "r12") -> Path:
    """Publish one more prediction (a copy of r01 at noon on `day`) as a new dt= partition."""
    row = predictions().iloc[[0]].assign(ts=pd.Timestamp(f"{day} 12:00").as_unit("us"), request_id=request_id)
    return write_partitioned(data_dir, "predictions", row)[0]


class RecordingCache(FileSystemCache):
    """The portal's FileSystemCache (no size limit, no expiry) that records the keys it is asked for and given."""

    def __init__(self, folder: Path):
        self.read: list[str] = []
        self.written: list[str] = []
        super().__init__(str(folder), threshold=0, default_timeout=0)

    def get(self, key):
        self.read.append(key)
        return super().get(key)

    def set(self, key, value, timeout=None, **kwargs):
        self.written.append(key)
        return super().set(key, value, timeout, **kwargs)

    def forget(self) -> None:
        """Start recording afresh (the entries stay)."""
        self.read.clear()
        self.written.clear()


def serving_variant(config: Config, folder: Path) -> Config:
    """`config` with every setting that changes no result set otherwise: how and where it serves, caches and
    lets in (all but data_dir, whose files are the data). The settings a second host would differ in."""
    users = folder / "users"
    users.write_text(f"ann:{generate_password_hash('a password')}\n")
    return replace(
        config,
        cache_dir=folder / "another-cache",
        metrics_dir=folder / "another-run",
        duckdb_spill_dir=folder / "another-spill",
        cache_type="simple",
        cache_timeout=60,
        cache_redis_url="redis://cache.internal:6380/2",
        celery_broker_url="redis://broker.internal:6379/3",
        bind="0.0.0.0:9000",
        public_url="https://portal.example.com",
        url_prefix="/monitoring/",
        workers=7,
        threads=16,
        duckdb_threads=1,
        duckdb_memory_limit="2GiB",
        query_timeout=5.0,
        heavy_queries=5,
        log_level="DEBUG",
        alert_webhook="https://hooks.example/alerts",
        alertmanager_url="http://alertmanager.internal:9093",
        alert_interval=15,
        alert_history_days=30,
        state_dir=folder / "another-state",
        state_redis_url="redis://state.internal:6379/1",
        embed_secret="s" * 32,
        auth="basic",
        users_file=users,
        auth_header="X-Auth-Request-User",
        trusted_proxies="10.0.0.0/8",
        frame_ancestors="'none'",
        browser_path="/opt/chromium/chrome",
    )


def fill(volume: Path, leave: int = 0) -> Path:
    """Write a file until `volume` has no byte left, then give back `leave` bytes (whole pages, on a tmpfs)."""
    filler = volume / "filler"
    with filler.open("wb", buffering=0) as out:  # unbuffered: the write that finds no room raises, not the close
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def no_queries(*args, **kwargs):
    """Stands in for Database._execute where every answer must come from the cache."""
    raise AssertionError("a query ran although its result was cached")


def rows(frame: pd.DataFrame) -> list[dict]:
    """Turn a result frame into plain dicts (NaN/NaT/NA -> None, numpy scalars -> Python) for comparisons."""
    return [{k: _plain(v) for k, v in record.items()} for record in frame.to_dict("records")]


def assert_rows(frame: pd.DataFrame, expected: list[dict]) -> None:
    """Assert a result equals the expected rows, in order; floats may differ in the last bits only."""
    got = rows(frame)
    if expected:
        assert list(frame.columns) == list(expected[0])
    # Accept a float that is close, so pytest's diff shows only the rows that really differ.
    expected = [
        {k: (got[i][k] if i < len(got) and _close(got[i].get(k), v) else v) for k, v in row.items()}
        for i, row in enumerate(expected)
    ]
    assert got == expected


def _close(actual, wanted) -> bool:
    numbers = (int, float)
    if isinstance(wanted, float) and isinstance(actual, numbers) and not isinstance(actual, bool):
        return math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-12)
    return False


def _plain(value):
    if isinstance(value, list | tuple):
        return value
    if pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
