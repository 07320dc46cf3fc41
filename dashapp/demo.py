"""Write a seeded, realistic demo data set in the contract layout, with incidents to find (docs/data-contract.md).

Everything is vectorised numpy/pyarrow and the logs are written one day at a time, so ten million
predictions take about half a minute in under 0.5 GiB. The same seed and end give the same files.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .contract import LABELS, TABLES
from .sources import publish

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "XOM", "JNJ", "BAC", "WMT")
SYMBOL_SHARE = np.array([16, 12, 15, 10, 8, 7, 13, 5, 4, 3, 4, 3], float) / 100
START_PRICE = np.array([150.0, 280.0, 22.0, 115.0, 100.0, 210.0, 230.0, 135.0, 90.0, 165.0, 33.0, 48.0])
ANNUAL_VOL = np.array([0.26, 0.24, 0.45, 0.32, 0.28, 0.38, 0.55, 0.22, 0.25, 0.15, 0.27, 0.17])
BASE_VOLUME = np.array([55, 22, 250, 40, 25, 15, 90, 9, 15, 7, 35, 17], float) * 1e6

OLD_VERSION = "sent-v1.3.0"
STABLE_VERSION = "sent-v1.4.2"
CANARY_VERSION = "sent-v1.5.0-rc1"
VERSIONS = (OLD_VERSION, STABLE_VERSION, CANARY_VERSION)
CANARY_SHARE = 0.10
AGREEMENT = {OLD_VERSION: 0.85, STABLE_VERSION: 0.85, CANARY_VERSION: 0.62}

SOURCES = ("reuters", "bloomberg", "dowjones", "benzinga", "twitter", "seekingalpha")
SOURCE_SHARE = np.array([0.24, 0.2, 0.14, 0.16, 0.16, 0.1])
CATEGORIES = ("earnings", "m&a", "macro", "analyst", "legal", "product", "crypto")
CATEGORY_SHARE = np.array([0.28, 0.08, 0.2, 0.26, 0.07, 0.11, 0.0])
DRIFT_CATEGORY_SHARE = np.array([0.18, 0.06, 0.38, 0.16, 0.05, 0.07, 0.1])
CATEGORY_TONE = np.array([0.0, 0.15, -0.25, 0.05, -0.3, 0.1, 0.2])
LANGUAGES = ("en", "de", "fr", "es", "ja")
LANGUAGE_SHARE = np.array([0.92, 0.03, 0.02, 0.02, 0.01])
AUTHORS, NEW_AUTHORS = 2000, 1000
NUMERIC_FEATURES = ("headline_length", "body_length", "num_tickers", "vix", "novelty", "embedding_norm")
CATEGORICAL_FEATURES = ("news_category", "language", "author_id")

LATENT_SD, LATENT_PHI = 0.35, 0.75
SENTIMENT_RETURN_CORR = 0.18
OUTCOME_SHARE = 0.70
DRIFT_RAMP = timedelta(hours=6)
OUTAGE = timedelta(minutes=25)
MEMORY_CLIMB = timedelta(hours=36)
MAX_CHUNK_ROWS = 1_000_000
SECOND = 1_000_000  # timestamps are int64 microseconds until they become arrow arrays
MINUTE, HOUR, DAY = 60 * SECOND, 3600 * SECOND, 86400 * SECOND
EPOCH = datetime(1970, 1, 1)
PIPELINE_INCIDENT_ERROR = "schema mismatch: column vix missing"
RANDOM_ERRORS = (
    "TimeoutError: stage exceeded its deadline",
    "ConnectionResetError: connection reset by peer",
    "OOMKilled: container exceeded its memory limit",
    "HTTPError: 503 from upstream service",
)


@dataclass(frozen=True)
class Timeline:
    """The demo period and its incident windows, as naive UTC datetimes and dates.

    Incidents sit at fixed distances before `end` (drift 3 d, canary 5 d, database outage 6 d, spike
    ~10 d after a memory climb, failed pipeline 12 d); periods shorter than 14 days squeeze them
    proportionally so each still fits.
    Without `incidents` (a clean demo) every incident check says no, and no default alert rule fires.
    """

    end: datetime
    days: int
    incidents: bool = True

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    def _before_end(self, nominal_days: float, share: float) -> datetime:
        """Go back `nominal_days` from end, or `share` of the period when that is shorter; floor to the hour."""
        back = self.end - timedelta(days=min(nominal_days, share * self.days))
        return back.replace(minute=0, second=0, microsecond=0)

    @property
    def version_switch(self) -> datetime:
        """When sent-v1.4.2 replaced sent-v1.3.0 (a third into the period)."""
        return (self.start + timedelta(days=self.days / 3)).replace(minute=0, second=0, microsecond=0)

    @property
    def canary_start(self) -> datetime:
        return self._before_end(5, 0.4)

    @property
    def drift_start(self) -> datetime:
        return self._before_end(3, 0.25)

    @property
    def spike_start(self) -> datetime:
        """14:00 UTC on the first weekday on or after end - 10 d: US trading hours, when it hurts most."""
        day = self._before_end(10, 0.75).date()
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return datetime.combine(day, time(14))

    @property
    def spike_end(self) -> datetime:
        return self.spike_start + timedelta(hours=3)

    @property
    def outage_start(self) -> datetime:
        """The database's outage: 03:10 UTC, six days before end."""
        return self._before_end(6, 0.45).replace(hour=3, minute=10)

    @property
    def outage_end(self) -> datetime:
        return self.outage_start + OUTAGE

    @property
    def memory_climb_start(self) -> datetime:
        """model-server-0 leaks memory from here until it is restarted when the latency spike ends."""
        return self.spike_end - MEMORY_CLIMB

    @property
    def pipeline_incident_start(self) -> datetime:
        return self._before_end(12, 0.875)

    @property
    def pipeline_incident_end(self) -> datetime:
        return self.pipeline_incident_start + timedelta(days=1)

    def during(self, us: np.ndarray, start: datetime, end: datetime) -> np.ndarray:
        """Which µs timestamps fall in the incident window [start, end): none in a clean demo."""
        return self.incidents & (us >= _us(start)) & (us < _us(end))

    @property
    def last_bar(self) -> date:
        """The last weekday whose close (20:00 UTC) is before end."""
        day = self.end.date() if self.end.time() >= time(20) else self.end.date() - timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return day

    @property
    def market_start(self) -> date:
        return self.last_bar - timedelta(days=3 * 365)

    @property
    def paper_start(self) -> date:
        """Paper trading of ppo-sentiment 2.1 starts here; 2.0 paper-traded the 90 days before."""
        return self.end.date() - timedelta(days=90)

    @property
    def drawdown_start(self) -> date:
        return self.end.date() - timedelta(days=80)

    @property
    def drawdown_end(self) -> date:
        return self.end.date() - timedelta(days=45)


def timeline(end: datetime | None, days: int, incidents: bool = True) -> Timeline:
    """Build the timeline: end defaults to now; it is made naive UTC and floored to the minute."""
    end = datetime.now(UTC) if end is None else end
    if end.tzinfo is not None:
        end = end.astimezone(UTC).replace(tzinfo=None)
    return Timeline(end.replace(second=0, microsecond=0), days, incidents)


def write_demo(
    out: Path,
    rows: int = 1_000_000,
    days: int = 30,
    seed: int = 7,
    end: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    incidents: bool = True,
) -> dict[str, int]:
    """Write the contract tables under `out`; return rows per table.

    `incidents=False` writes a clean data set: the same kind of data with no incident in it.
    """
    out = Path(out)
    say = progress or (lambda message: None)
    tl = timeline(end, days, incidents)
    latent = Latent.generate(seed, min(tl.market_start, tl.start.date()), tl.end.date())
    _remove_tables(out)
    counts = _write_logs(out, tl, rows, seed, latent, say)
    counts["service_metrics"] = _write_service_metrics(out, tl, seed)
    say(f"service_metrics: {counts['service_metrics']:,} rows")
    market = Market.generate(seed, tl, latent)
    runs, returns, trades = backtest_tables(seed, tl, market, latent)
    singles = {
        "reference": reference_table(seed, min(max(rows // 20, 2_000), 200_000)),
        "market": market.table(),
        "backtest_runs": runs,
        "backtest_returns": returns,
        "trades": trades,
        "pipeline_runs": pipeline_runs_table(seed, tl),
        "training_runs": training_runs_table(seed, tl),
    }
    singles["training_metrics"] = training_metrics_table(seed, singles["training_runs"])
    for name, table in singles.items():
        counts[name] = publish(table, out / f"{name}.parquet")
        say(f"{name}: {counts[name]:,} rows")
    return {name: counts[name] for name in TABLES if name in counts}


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    """Give each table (and each day of a log) its own stream, so chunking never changes the data."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) if isinstance(k, str) else k for k in keys)])


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _timestamps(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype("datetime64[us]"), pa.timestamp("us"))


def _take(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index))


def _remove_tables(out: Path) -> None:
    """Drop earlier contract tables so a rerun never mixes two data sets."""
    for table in TABLES.values():
        folder, single = table.locations(out)
        if folder.is_dir():
            shutil.rmtree(folder)
        single.unlink(missing_ok=True)
        single.with_name(f".{single.name}.tmp").unlink(missing_ok=True)


@dataclass(frozen=True)
class Latent:
    """The hidden daily sentiment per symbol (AR(1)) behind both the news scores and next-day returns."""

    first_day: int  # days since the epoch
    values: np.ndarray  # (calendar day, symbol)

    @classmethod
    def generate(cls, seed: int, first: date, last: date) -> Latent:
        """Simulate the stationary AR(1) series from `first` to `last`."""
        rng = _rng(seed, "latent")
        n = (last - first).days + 1
        shocks = rng.normal(0, LATENT_SD * np.sqrt(1 - LATENT_PHI**2), (n, len(SYMBOLS)))
        values = np.empty_like(shocks)
        values[0] = rng.normal(0, LATENT_SD, len(SYMBOLS))
        for day in range(1, n):
            values[day] = LATENT_PHI * values[day - 1] + shocks[day]
        return cls((first - EPOCH.date()).days, values)

    def at(self, days: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """Look up the latent value for epoch-day numbers and symbol indices."""
        return self.values[days - self.first_day, symbols]


# --- predictions and outcomes -------------------------------------------------------------------


def _traffic_weights(tl: Timeline, seed: int) -> np.ndarray:
    """Relative traffic per minute: busiest in US market hours, quiet at night and at weekends."""
    minutes = _us(tl.start) + np.arange(tl.days * 1440, dtype=np.int64) * MINUTE
    hour = (minutes % DAY) / HOUR
    shape = np.interp(
        hour,
        [0, 6, 8, 11, 13, 13.5, 16, 19.5, 20.5, 22, 24],
        [0.15, 0.15, 0.35, 0.45, 0.7, 1.0, 0.9, 1.0, 0.55, 0.3, 0.15],
    )
    day = minutes // DAY
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    shape = np.where(weekend, 0.25 * (0.5 + 0.5 * shape), shape)
    day_factor = _rng(seed, "traffic").lognormal(0, 0.08, tl.days + 2)
    return shape * day_factor[day - day[0]]


def _day_chunks(tl: Timeline, rows: int, seed: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (epoch day, minute starts, rows per minute) in chunks of at most ~MAX_CHUNK_ROWS."""
    weights = _traffic_weights(tl, seed)
    counts = _rng(seed, "arrivals").multinomial(rows, weights / weights.sum())
    minutes = _us(tl.start) + np.arange(counts.size, dtype=np.int64) * MINUTE
    day = minutes // DAY
    bounds = np.flatnonzero(np.diff(day)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, counts.size], strict=True):
        before = np.cumsum(counts[lo:hi]) - counts[lo:hi]
        part = before // MAX_CHUNK_ROWS
        for p in range(int(part[-1]) + 1):
            pick = slice(lo + np.searchsorted(part, p), lo + np.searchsorted(part, p, side="right"))
            yield int(day[lo]), minutes[pick], counts[pick]


def _sample_categories(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """Draw one category per row from per-row share vectors (rows x categories)."""
    cumulative = np.cumsum(shares, axis=1)
    u = rng.random(len(shares))[:, None] * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1)


def _features(rng: np.random.Generator, drift: np.ndarray) -> dict[str, np.ndarray]:
    """Draw the model's input features; `drift` in [0, 1] per row moves them to the drifted regime."""
    n = len(drift)
    author_weight = 1 / (np.arange(AUTHORS) + 10) ** 0.8
    author = rng.choice(AUTHORS, n, p=author_weight / author_weight.sum())
    newcomer = rng.random(n) < 0.35 * drift
    author[newcomer] = AUTHORS + rng.integers(0, NEW_AUTHORS, int(newcomer.sum()))
    category = _sample_categories(rng, np.outer(1 - drift, CATEGORY_SHARE) + np.outer(drift, DRIFT_CATEGORY_SHARE))
    return {
        "headline_length": np.clip(np.rint(70 * rng.lognormal(0, 0.3, n) * (1 + 0.3 * drift)), 12, 400).astype(
            np.int32
        ),
        "body_length": np.clip(np.rint(2200 * rng.lognormal(0, 0.6, n)), 80, None).astype(np.int32),
        "num_tickers": (1 + rng.poisson(0.6, n)).astype(np.int32),
        "vix": np.round(16 * rng.lognormal(0, 0.15, n) * (1 + 0.6 * drift), 2),
        "novelty": np.round(rng.beta(2, 3, n), 4),
        "embedding_norm": np.round(rng.normal(1.0, 0.05, n), 4),
        "news_category": category,
        "language": rng.choice(len(LANGUAGES), n, p=LANGUAGE_SHARE),
        "author_id": author,
    }


def _feature_columns(drawn: dict[str, np.ndarray]) -> dict[str, np.ndarray | pa.Array]:
    """Turn drawn category indices into string columns."""
    columns = {name: drawn[name] for name in NUMERIC_FEATURES}
    columns["news_category"] = _take(CATEGORIES, drawn["news_category"])
    columns["language"] = _take(LANGUAGES, drawn["language"])
    columns["author_id"] = _take(tuple(f"au-{i:05d}" for i in range(AUTHORS + NEW_AUTHORS)), drawn["author_id"])
    return columns


def _score(rng: np.random.Generator, latent: np.ndarray, category: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score news from the symbol's latent sentiment, the category's tone and noise; return (score, label index)."""
    score = np.round(np.tanh(0.9 * latent + CATEGORY_TONE[category] + rng.normal(0.03, 0.45, len(latent))), 4)
    return score, np.where(score < -0.2, 0, np.where(score > 0.2, 2, 1))


def _request_ids(first: int, n: int) -> pa.Array:
    digits = pa.array(np.arange(first, first + n, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise("r", pc.utf8_lpad(digits, 10, "0"), "")


def _prediction_chunk(
    rng: np.random.Generator, tl: Timeline, latent: Latent, ts: np.ndarray, first_id: int
) -> tuple[pa.Table, np.ndarray]:
    """Build predictions for sorted µs timestamps; also return each row's model version index."""
    n = len(ts)
    drift = np.clip((ts - _us(tl.drift_start)) / (DRIFT_RAMP / timedelta(microseconds=1)), 0, 1) * tl.incidents
    spike = tl.during(ts, tl.spike_start, tl.spike_end)
    version = np.where(ts < _us(tl.version_switch), 0, 1)
    canary = (ts >= _us(tl.canary_start)) & (rng.random(n) < CANARY_SHARE)
    version[canary] = 2
    symbol = rng.choice(len(SYMBOLS), n, p=SYMBOL_SHARE)
    drawn = _features(rng, drift)
    score, label = _score(rng, latent.at(ts // DAY, symbol), drawn["news_category"])
    confidence = np.round(rng.beta(2 + 6 * np.abs(score), 2.5), 4)
    cache_hit = rng.random(n) < np.where(spike, 0.70, 0.95)
    slow_canary = canary & tl.incidents  # the weak canary is slower too; a clean demo's is as fast as the stable
    latency = 55 * rng.lognormal(0, 0.55, n) * np.where(cache_hit, 1.0, 1.8) * np.where(slow_canary, 1.15, 1.0)
    latency = np.where(spike, 480 * rng.lognormal(0, 0.85, n), latency)
    u = rng.random(n)
    status = np.select([spike & (u < 0.08), u < 0.003, u < 0.005], [504, 500, 429], 200).astype(np.int32)
    latency = np.select([status == 504, status == 429], [3000 + rng.uniform(0, 50, n), 0.1 * latency], latency)
    table = pa.table(
        {
            "ts": _timestamps(ts),
            "request_id": _request_ids(first_id, n),
            "symbol": _take(SYMBOLS, symbol),
            "model_version": _take(VERSIONS, version),
            "sentiment_score": score,
            "confidence": confidence,
            "label": _take(LABELS, label),
            "latency_ms": np.round(latency, 1),
            "status": status,
            "cache_hit": cache_hit,
            "source": _take(SOURCES, rng.choice(len(SOURCES), n, p=SOURCE_SHARE)),
            **_feature_columns(drawn),
        }
    )
    return table, version


def _outcome_chunk(rng: np.random.Generator, tl: Timeline, predictions: pa.Table, version: np.ndarray) -> pa.Table:
    """Give ~70% of predictions older than a day a true label that arrives 1-24 h later."""
    ts = predictions["ts"].to_numpy().astype(np.int64)
    n = len(ts)
    has = (ts < _us(tl.end) - DAY) & (rng.random(n) < OUTCOME_SHARE)
    label = pc.index_in(predictions["label"], pa.array(LABELS)).to_numpy()
    # In a clean demo the canary is as good as the stable version.
    agree = rng.random(n) < np.array([AGREEMENT[v if tl.incidents else STABLE_VERSION] for v in VERSIONS])[version]
    truth = np.where(agree, label, (label + rng.integers(1, 3, n)) % 3)
    arrival = ts + rng.integers(HOUR, DAY, n)
    return pa.table(
        {
            "request_id": predictions["request_id"].filter(pa.array(has)),
            "ts": _timestamps(arrival[has]),
            "true_label": _take(LABELS, truth[has]),
        }
    )


def _day_folder(out: Path, table: str, epoch_day: int) -> Path:
    return out / table / f"dt={np.datetime64(epoch_day, 'D')}"


def _write_logs(
    out: Path, tl: Timeline, rows: int, seed: int, latent: Latent, say: Callable[[str], None]
) -> dict[str, int]:
    """Write predictions by day, and outcomes by the day they arrive (at most the next day)."""
    written = {"predictions": 0, "outcomes": 0}
    pending: dict[int, list[pa.Table]] = {}
    current_day, part = None, 0
    for epoch_day, minutes, counts in _day_chunks(tl, rows, seed):
        if epoch_day != current_day:
            written["outcomes"] += _flush_outcomes(out, pending, before=epoch_day)
            rng = _rng(seed, "predictions", epoch_day)
            current_day, part = epoch_day, 0
        ts = np.sort(np.repeat(minutes, counts) + rng.integers(0, MINUTE, int(counts.sum())))
        predictions, version = _prediction_chunk(rng, tl, latent, ts, written["predictions"])
        if predictions.num_rows:
            publish(predictions, _day_folder(out, "predictions", epoch_day) / f"part-{part}.parquet")
            part += 1
        written["predictions"] += predictions.num_rows
        outcomes = _outcome_chunk(rng, tl, predictions, version)
        arrival_day = outcomes["ts"].to_numpy().astype(np.int64) // DAY
        for day in np.unique(arrival_day):
            pending.setdefault(int(day), []).append(outcomes.filter(pa.array(arrival_day == day)))
        say(f"predictions {np.datetime64(epoch_day, 'D')}: {written['predictions']:,} of {rows:,} rows")
    written["outcomes"] += _flush_outcomes(out, pending, before=None)
    say(f"outcomes: {written['outcomes']:,} rows")
    return written


def _flush_outcomes(out: Path, pending: dict[int, list[pa.Table]], before: int | None) -> int:
    """Write the outcome days that can no longer grow (all of them when `before` is None)."""
    rows = 0
    for day in sorted(d for d in pending if before is None or d < before):
        rows += publish(
            pa.concat_tables(pending.pop(day)).sort_by("ts"), _day_folder(out, "outcomes", day) / "part-0.parquet"
        )
    return rows


def reference_table(seed: int, rows: int) -> pa.Table:
    """Draw the training-time baseline: pre-drift features plus the label and score."""
    rng = _rng(seed, "reference")
    drawn = _features(rng, np.zeros(rows))
    latent = rng.normal(0, LATENT_SD, rows)
    score, label = _score(rng, latent, drawn["news_category"])
    return pa.table({**_feature_columns(drawn), "label": _take(LABELS, label), "sentiment_score": score})


# --- market and the trading agent ----------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """Daily closes on weekdays, with next-day returns nudged by the previous day's latent sentiment."""

    days: np.ndarray  # datetime64[D]
    close: np.ndarray  # (day, symbol), rounded to cents
    volume: np.ndarray  # (day, symbol)

    @classmethod
    def generate(cls, seed: int, tl: Timeline, latent: Latent) -> Market:
        """Simulate correlated geometric random walks over ~3 years of weekdays."""
        rng = _rng(seed, "market")
        days = np.arange(tl.market_start, tl.last_bar + timedelta(days=1), dtype="datetime64[D]")
        days = days[np.is_busday(days)]
        n, k = len(days), len(SYMBOLS)
        signal = latent.at(days[:-1].astype(np.int64)[:, None], np.arange(k)[None, :]) / LATENT_SD
        common = np.sqrt(0.35) * rng.normal(size=(n - 1, 1)) + np.sqrt(0.65) * rng.normal(size=(n - 1, k))
        shocks = SENTIMENT_RETURN_CORR * signal + np.sqrt(1 - SENTIMENT_RETURN_CORR**2) * common
        returns = 0.08 / 252 + ANNUAL_VOL / np.sqrt(252) * shocks
        close = np.round(START_PRICE * np.vstack([np.ones(k), np.cumprod(1 + returns, axis=0)]), 2)
        volume = BASE_VOLUME * rng.lognormal(0, 0.25, (n, k)) * (1 + 15 * np.abs(np.vstack([np.zeros(k), returns])))
        return cls(days, close, np.rint(volume).astype(np.int64))

    @property
    def returns(self) -> np.ndarray:
        """Simple returns of the rounded closes; row 0 is zero."""
        return np.vstack([np.zeros(len(SYMBOLS)), self.close[1:] / self.close[:-1] - 1])

    def table(self) -> pa.Table:
        """Lay the bars out long: one row per day and symbol."""
        n, k = self.close.shape
        return pa.table(
            {
                "ts": pa.array(np.repeat(self.days, k), pa.date32()),
                "symbol": _take(SYMBOLS, np.tile(np.arange(k), n)),
                "close": self.close.ravel(),
                "volume": self.volume.ravel(),
            }
        )


@dataclass(frozen=True)
class Agent:
    """One agent version: how noisily it reads sentiment, its Sharpe target, its hyper-parameters."""

    name: str
    version: str
    noise: float
    threshold: float
    sharpe: float  # outside the drawdown episode
    params: dict
    drawdown: bool = False

    def run_id(self, kind: str, created: datetime) -> str:
        prefix = "bt" if kind == "backtest" else "paper"
        return f"{prefix}-{self.name.split('-')[0]}-{self.version}-{created:%Y%m%d}"


AGENTS = (
    Agent("ppo-sentiment", "2.0", 4.0, 0.3, 0.9, {"learning_rate": 3e-4, "gamma": 0.99, "clip_range": 0.2}),
    Agent("ppo-sentiment", "2.1", 2.8, 0.3, 2.0, {"learning_rate": 2e-4, "gamma": 0.995, "clip_range": 0.15}, True),
    Agent("dqn-baseline", "1.0", 5.5, 0.25, 0.5, {"learning_rate": 1e-3, "gamma": 0.95, "epsilon_final": 0.05}),
)
COST_BPS = 5
PAPER_SLIPPAGE_BPS = 3
WRONG_WAY = 0.76
# A full position in every symbol is 1.5x gross exposure: an unlevered book over 12 names is too calm to be realistic.
LEVERAGE = 1.5
NOTIONAL_PER_SYMBOL = LEVERAGE * 1_000_000 / len(SYMBOLS)


def _positions(seed: int, agent: Agent, tl: Timeline, market: Market, latent: Latent) -> np.ndarray:
    """Decide each day's closing position per symbol (-1, 0, 1) from a noisy read of the latent sentiment."""
    rng = _rng(seed, "agent", agent.name, agent.version)
    n, k = market.close.shape
    seen = latent.at(market.days.astype(np.int64)[:, None], np.arange(k)[None, :]) / LATENT_SD
    noise = np.empty((n, k))
    noise[0] = rng.normal(size=k)
    shocks = rng.normal(0, np.sqrt(1 - 0.8**2), (n, k))
    for day in range(1, n):
        noise[day] = 0.8 * noise[day - 1] + shocks[day]
    read = seen + agent.noise * noise
    held = np.where(np.abs(read) > agent.threshold * (1 + agent.noise), np.sign(read), 0.0)
    if agent.drawdown:
        # A regime the policy misreads: it sits on the wrong side of most next-day moves.
        episode = np.flatnonzero(_in_drawdown(tl, market.days[:-1]))
        wrong = np.where(rng.random((len(episode), k)) < WRONG_WAY, -1.0, 1.0)
        held[episode] = wrong * np.sign(market.returns[episode + 1])
    return held


def _in_drawdown(tl: Timeline, days: np.ndarray) -> np.ndarray:
    return tl.incidents & (days >= np.datetime64(tl.drawdown_start)) & (days < np.datetime64(tl.drawdown_end))


def _book(held: np.ndarray, span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the positions held into each day of `span` and the trades at its close; a run starts flat."""
    before = np.vstack([np.zeros(held.shape[1]), held[span[:-1]]])
    return before, held[span] - before


def _pnl(market: Market, held: np.ndarray, span: np.ndarray, cost_bps: float) -> np.ndarray:
    """Daily simple returns of the book over `span`, after trading costs."""
    before, change = _book(held, span)
    return LEVERAGE * ((before * market.returns[span]).mean(axis=1) - cost_bps / 1e4 * np.abs(change).mean(axis=1))


def _carry(agent: Agent, tl: Timeline, market: Market, held: np.ndarray) -> float:
    """Find the daily carry that gives the full backtest the agent's Sharpe outside the drawdown episode."""
    # Three years of daily returns pin a Sharpe ratio down only to about +-0.6, so without this the
    # versions' ranking would change with the seed and the day the demo is generated.
    raw = _pnl(market, held, np.arange(len(market.days)), COST_BPS)
    calm = raw[~_in_drawdown(tl, market.days)]
    return agent.sharpe * calm.std() / np.sqrt(252) - calm.mean()


def _run_rows(
    run_id: str, market: Market, held: np.ndarray, span: np.ndarray, strategy: np.ndarray
) -> tuple[pa.Table, pa.Table]:
    """Lay out one run's daily returns and its trades (one row per day and symbol) as tables."""
    before, change = _book(held, span)
    k = len(SYMBOLS)
    daily = pa.table(
        {
            "run_id": pa.array([run_id] * len(span)),
            "ts": pa.array(market.days[span], pa.date32()),
            "strategy_return": np.round(strategy, 6),
            "benchmark_return": np.round(market.returns[span].mean(axis=1), 6),
            "exposure": np.round(np.abs(before).mean(axis=1), 4),
        }
    )
    price = market.close[span].ravel()
    trades = pa.table(
        {
            "run_id": pa.array([run_id] * price.size),
            "ts": _timestamps(np.repeat(market.days[span].astype("datetime64[us]").astype(np.int64) + 20 * HOUR, k)),
            "symbol": _take(SYMBOLS, np.tile(np.arange(k), len(span))),
            "action": _take(("hold", "buy", "sell"), np.sign(change).astype(int).ravel() % 3),
            "quantity": np.rint(np.abs(change).ravel() * NOTIONAL_PER_SYMBOL / price).astype(np.int64),
            "price": price,
        }
    )
    return daily, trades


def backtest_tables(seed: int, tl: Timeline, market: Market, latent: Latent) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Backtest every agent over the whole market period; paper-trade ppo-sentiment 2.0, then 2.1 since paper_start."""
    tracking = _rng(seed, "paper")
    days = market.days
    paper_start = np.datetime64(tl.paper_start)
    paper = {
        ("ppo-sentiment", "2.0"): np.flatnonzero(
            (days >= paper_start - np.timedelta64(90, "D")) & (days < paper_start)
        ),
        ("ppo-sentiment", "2.1"): np.flatnonzero(days >= paper_start),
    }
    runs, daily, trades = [], [], []
    for number, agent in enumerate(AGENTS):
        held = _positions(seed, agent, tl, market, latent)
        offset = _carry(agent, tl, market, held)
        created = tl.end - timedelta(minutes=10 * (len(AGENTS) - number))
        span = np.arange(len(days))
        params = {**agent.params, "cost_bps": COST_BPS}
        plan = [("backtest", created, span, _pnl(market, held, span, COST_BPS) + offset, params)]
        if (agent.name, agent.version) in paper:
            span = paper[agent.name, agent.version]
            created = datetime.combine(days[span[0]].item(), time(13))
            # Paper fills pay slippage and never match the backtest exactly.
            strategy = _pnl(market, held, span, COST_BPS + PAPER_SLIPPAGE_BPS) + offset
            strategy += tracking.normal(0, 4e-4, len(span))
            plan.append(("paper", created, span, strategy, {**params, "slippage_bps": PAPER_SLIPPAGE_BPS}))
        for kind, created, span, strategy, params in plan:
            run_id = agent.run_id(kind, created)
            runs.append((run_id, agent.name, agent.version, kind, created, json.dumps(params, sort_keys=True)))
            run_daily, run_trades = _run_rows(run_id, market, held, span, strategy)
            daily.append(run_daily)
            trades.append(run_trades)
    columns = ("run_id", "agent", "agent_version", "kind", "created_at", "params")
    run_table = pa.table(dict(zip(columns, map(list, zip(*runs, strict=True)), strict=True)))
    run_table = run_table.set_column(4, "created_at", run_table["created_at"].cast(pa.timestamp("us")))
    return run_table.sort_by("created_at"), pa.concat_tables(daily), pa.concat_tables(trades)


# --- pipelines and training ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pipeline:
    """A scheduled pipeline: its cadence, first run's offset in the day, stages and typical sizes."""

    name: str
    every: timedelta
    offset: timedelta
    stages: tuple[str, ...]
    median_seconds: tuple[float, ...]
    rows: float
    keep: tuple[float, ...]


PIPELINES = (
    Pipeline("news_ingest", timedelta(hours=1), timedelta(minutes=5), ("fetch", "parse", "dedupe"),
             (35, 20, 8), 1800, (1.0, 0.995, 0.85)),
    Pipeline("feature_build", timedelta(hours=6), timedelta(minutes=15), ("join", "compute", "publish"),
             (80, 210, 25), 9000, (0.99, 1.0, 1.0)),
    Pipeline("model_eval", timedelta(days=1), timedelta(hours=3), ("score", "evaluate"), (540, 95), 60000, (1.0, 0.7)),
    Pipeline("backtest_nightly", timedelta(days=1), timedelta(hours=2), ("simulate", "report"),
             (1400, 45), 9400, (1.0, 0.01)),
)  # fmt: skip


def _pipeline_rows(seed: int, tl: Timeline, pipeline: Pipeline) -> pa.Table:
    """Simulate one pipeline's stage executions; a failed stage stops its run."""
    rng = _rng(seed, "pipeline", pipeline.name)
    first_day = _us(datetime.combine(tl.start.date(), time()))
    scheduled = np.arange(first_day + pipeline.offset // timedelta(microseconds=1), _us(tl.end),
                          pipeline.every // timedelta(microseconds=1), dtype=np.int64)  # fmt: skip
    scheduled = scheduled[scheduled >= _us(tl.start)]
    runs, stages = len(scheduled), len(pipeline.stages)
    # Random failures too: one failed run of a daily pipeline is a whole day failed for the alert rule.
    failed = rng.random((runs, stages)) < 0.004 * tl.incidents
    error = np.array(RANDOM_ERRORS, object)[rng.integers(0, len(RANDOM_ERRORS), (runs, stages))]
    if pipeline.name == "feature_build":
        incident = tl.during(scheduled, tl.pipeline_incident_start, tl.pipeline_incident_end)
        failed[incident, 0] = True
        error[incident, 0] = PIPELINE_INCIDENT_ERROR
    first_failure = np.where(failed.any(axis=1), failed.argmax(axis=1), stages)
    stage = np.arange(stages)[None, :]
    is_failure = stage == first_failure[:, None]
    seconds = np.array(pipeline.median_seconds) * rng.lognormal(0, 0.35, (runs, stages))
    seconds = np.where(is_failure, seconds * rng.uniform(0.1, 0.6, (runs, stages)), seconds)
    took = (seconds * SECOND).astype(np.int64)
    gap = rng.integers(SECOND, 5 * SECOND, (runs, stages))
    started = scheduled[:, None] + rng.integers(0, 30 * SECOND, (runs, 1)) + np.cumsum(took + gap, axis=1) - took
    finished = started + took
    hour_shape = np.interp((scheduled % DAY) / HOUR, [0, 8, 14, 20, 24], [0.3, 0.6, 1.0, 0.7, 0.3])
    rows_in = np.empty((runs, stages), np.int64)
    rows_out = np.empty((runs, stages), np.int64)
    rows_in[:, 0] = rng.poisson(pipeline.rows * (hour_shape if pipeline.name == "news_ingest" else 1))
    for s in range(stages):
        rows_out[:, s] = np.where(is_failure[:, s], 0, rng.binomial(rows_in[:, s], pipeline.keep[s]))
        if s + 1 < stages:
            rows_in[:, s + 1] = rows_out[:, s]
    keep = (stage <= first_failure[:, None]) & (finished < _us(tl.end))
    stamps = scheduled.astype("datetime64[us]").astype("datetime64[m]").astype(str)
    run_ids = np.array([f"{pipeline.name}-{t.replace('-', '').replace(':', '')}" for t in stamps], object)
    return pa.table(
        {
            "pipeline": pa.array([pipeline.name] * int(keep.sum())),
            "stage": pa.array(np.broadcast_to(np.array(pipeline.stages, object), keep.shape)[keep], pa.string()),
            "run_id": pa.array(np.broadcast_to(run_ids[:, None], keep.shape)[keep], pa.string()),
            "started_at": _timestamps(started[keep]),
            "finished_at": _timestamps(finished[keep]),
            "status": pa.array(np.where(is_failure, "failed", "success")[keep], pa.string()),
            "rows_in": rows_in[keep],
            "rows_out": rows_out[keep],
            "error": pa.array(np.where(is_failure, error, None)[keep], pa.string()),
        }
    )


def pipeline_runs_table(seed: int, tl: Timeline) -> pa.Table:
    """Simulate all pipelines over the period, ordered by start time."""
    return pa.concat_tables([_pipeline_rows(seed, tl, p) for p in PIPELINES]).sort_by("started_at")


TRAINING = (
    ("sent-v1.2.0", 0.801), ("sent-v1.2.1", 0.812), ("sent-v1.3.0", 0.829), ("sent-v1.3.1", 0.823),
    ("sent-v1.4.0", 0.838), ("sent-v1.4.1", 0.846), (STABLE_VERSION, 0.853), (CANARY_VERSION, 0.871),
)  # fmt: skip


def training_runs_table(seed: int, tl: Timeline) -> pa.Table:
    """Training history: each version finished before it was deployed; the canary looked best offline."""
    rng = _rng(seed, "training")
    older = np.linspace(_us(tl.end - timedelta(days=180)), _us(tl.version_switch - timedelta(days=16)), 6)
    finished = np.r_[older, _us(tl.version_switch - timedelta(days=2)), _us(tl.canary_start - timedelta(days=3))]
    finished = (finished + rng.integers(0, 8 * HOUR, len(finished))).astype(np.int64)
    accuracy = np.array([a for _, a in TRAINING]) + rng.normal(0, 0.002, len(TRAINING))
    f1 = accuracy - rng.uniform(0.01, 0.025, len(TRAINING))
    precision = accuracy + rng.normal(-0.004, 0.004, len(TRAINING))
    recall = f1 * precision / (2 * precision - f1)
    days = finished.astype("datetime64[us]").astype("datetime64[D]").astype(str)
    return pa.table(
        {
            "run_id": [
                f"train-{d.replace('-', '')}-{v.removeprefix('sent-')}"
                for d, (v, _) in zip(days, TRAINING, strict=True)
            ],
            "model_version": [v for v, _ in TRAINING],
            "finished_at": _timestamps(finished),
            "accuracy": np.round(accuracy, 4),
            "f1": np.round(f1, 4),
            "precision": np.round(precision, 4),
            "recall": np.round(recall, 4),
        }
    )


OVERFIT_VERSION = "sent-v1.3.1"  # trained too long: its validation loss turned up, and it scored below sent-v1.3.0
CURVE_POINTS = (240, 360)  # logged evaluations per run (every EVAL_EVERY steps), drawn per run
EVAL_EVERY = 10
CHANCE = 1 / len(LABELS)  # an untrained classifier's accuracy; its cross-entropy starts near log(3)


def _curves(rng: np.random.Generator, n: int, accuracy: float, f1: float, overfit: bool) -> dict[str, np.ndarray]:
    """One run's loss, val_loss, val_accuracy and val_macro_f1 at n evaluations (progress t = 1/n .. 1).

    The validation scores end exactly at the run's accuracy and F1 in training_runs, so both charts agree.
    Overfitting: after 55% of training val_loss turns up and the validation scores give back about two points.
    """
    t = np.arange(1, n + 1) / n
    rate = rng.uniform(5, 8)
    learned = 1 - np.exp(-rate * t)
    floor = 0.25 + 2.5 * (0.9 - accuracy) ** 1.5  # better models reach a lower loss
    late = np.clip(t - 0.55, 0, None) if overfit else np.zeros(n)
    curves = {
        "loss": (floor - 0.12 * overfit * t + (np.log(3) - floor) * (1 - learned)) * rng.lognormal(0, 0.025, n),
        "val_loss": (floor + 0.04 + (np.log(3) - floor) * (1 - learned) + 0.25 * late**2) * rng.lognormal(0, 0.012, n),
    }
    for name, final in (("val_accuracy", accuracy), ("val_macro_f1", f1)):
        shape = (final + 0.006 + 0.015 * overfit - CHANCE) * learned - 0.1 * late**2
        noise = rng.normal(0, 0.004, n)
        noise[-1] = 0.0
        curves[name] = np.round(final + shape - shape[-1] + noise, 5)
        curves[name][-1] = final
    curves["loss"], curves["val_loss"] = np.round(curves["loss"], 5), np.round(curves["val_loss"], 5)
    return curves


def training_metrics_table(seed: int, runs: pa.Table) -> pa.Table:
    """Per-step curves of every training run in `runs`, logged as MLflow logs them (one row per key and step).

    Each run evaluates every EVAL_EVERY steps until a minute before it finished, one to three hours in all.
    """
    rng = _rng(seed, "training_metrics")
    parts = []
    for run in runs.to_pylist():
        n = int(rng.integers(*CURVE_POINTS))
        curves = _curves(rng, n, run["accuracy"], run["f1"], run["model_version"] == OVERFIT_VERSION)
        last = _us(run["finished_at"]) - MINUTE
        ts = last - (np.arange(n)[::-1] * rng.uniform(1, 3) * HOUR / n).astype(np.int64)
        for key, values in curves.items():
            parts.append(
                pa.table(
                    {
                        "run_id": pa.array([run["run_id"]] * n, pa.string()),
                        "key": pa.array([key] * n, pa.string()),
                        "step": pa.array(np.arange(1, n + 1, dtype=np.int64) * EVAL_EVERY),
                        "ts": _timestamps(ts),
                        "value": pa.array(values, pa.float64()),
                    }
                )
            )
    return pa.concat_tables(parts)


# --- services around the model ------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """A service the model depends on, as a monitoring agent samples each instance once a minute."""

    name: str
    instances: tuple[str, ...]
    cpu: tuple[float, float]  # CPU % when idle and in the busiest minute
    memory: float
    disk: float
    probe_ms: float  # median health-check round trip


SERVICES = (
    Service("model-server", ("model-server-0", "model-server-1"), (12, 55), 52, 38, 8),
    Service("feature-store-cache", ("feature-cache-0",), (6, 30), 71, 22, 1.2),
    Service("database", ("db-0",), (10, 40), 64, 58, 4),
    Service("model-registry", ("registry-0",), (2, 6), 35, 41, 15),
    Service("pipeline-runner", ("runner-0",), (8, 10), 40, 30, 6),
)
RESTART = timedelta(minutes=3)  # model-server-0 is down this long when it is restarted after its memory climb
LEAKED_TO = 93.0  # model-server-0's memory % when it is restarted


def _instance_samples(
    rng: np.random.Generator, tl: Timeline, minutes: np.ndarray, load: np.ndarray, service: Service, instance: str
) -> dict[str, np.ndarray | pa.Array]:
    """One instance's samples at the given minutes: health check, resources and the check's round trip."""
    n = len(minutes)
    busy = (load - load.min()) / np.ptp(load)
    cpu = service.cpu[0] + (service.cpu[1] - service.cpu[0]) * busy + rng.normal(0, 2, n)
    memory = service.memory + rng.normal(0, 0.8, n)
    disk = np.full(n, service.disk) + rng.normal(0, 0.05, n)
    probe = service.probe_ms * rng.lognormal(0, 0.3, n)
    down = np.zeros(n, bool)
    if service.name == "pipeline-runner":
        minute_of_hour = (minutes % HOUR) // MINUTE
        cpu += np.where((minute_of_hour >= 5) & (minute_of_hour < 8), 45, 0)  # news_ingest runs from :05
    if service.name == "model-server":
        spike = tl.during(minutes, tl.spike_start, tl.spike_end)
        cpu = np.where(spike, 88 + rng.normal(0, 3, n), cpu)
        probe = np.where(spike, probe * 6, probe)
    if service.name == "database":
        disk += 5 * (minutes - minutes[0]) / (minutes[-1] - minutes[0])  # the logs it stores grow
        down = tl.during(minutes, tl.outage_start, tl.outage_end)
    if instance == "model-server-0":
        climb = tl.during(minutes, tl.memory_climb_start, tl.spike_end)
        share = (minutes - _us(tl.memory_climb_start)) / (MEMORY_CLIMB / timedelta(microseconds=1))
        memory = np.where(climb, memory + (LEAKED_TO - service.memory) * share, memory)
        down = tl.during(minutes, tl.spike_end, tl.spike_end + RESTART)

    # Down, the host's agent still reports: the crashed process uses next to no CPU or memory, and the
    # health check that failed has no round trip.
    cpu = np.where(down, rng.uniform(0.5, 2, n), cpu)
    memory = np.where(down, rng.uniform(3, 6, n), memory)
    return {
        "up": pa.array((~down).astype(np.int8)),
        "cpu_pct": np.round(np.clip(cpu, 0, 100), 1),
        "memory_pct": np.round(np.clip(memory, 0, 100), 1),
        "disk_pct": np.round(disk, 2),
        "probe_ms": pa.array(np.round(probe, 2), pa.float64(), mask=down),
    }


def _write_service_metrics(out: Path, tl: Timeline, seed: int) -> int:
    """Sample every instance once a minute over the period and write one dt= partition per day."""
    minutes = _us(tl.start) + np.arange(tl.days * 1440, dtype=np.int64) * MINUTE
    load = _traffic_weights(tl, seed)
    parts = []
    for service in SERVICES:
        for number, instance in enumerate(service.instances):
            rng = _rng(seed, "service", instance)
            samples = _instance_samples(rng, tl, minutes, load, service, instance)
            n = len(minutes)
            labels = {"service": pa.array([service.name] * n), "instance": pa.array([instance] * n)}
            # Each instance's agent reports a few seconds past the minute.
            parts.append(pa.table({"ts": _timestamps(minutes + (3 + 7 * number) * SECOND), **labels, **samples}))
    table = pa.concat_tables(parts).sort_by([("ts", "ascending"), ("instance", "ascending")])
    days = table["ts"].to_numpy().astype("datetime64[D]").astype(np.int64)
    written = 0
    for day in np.unique(days):
        path = _day_folder(out, "service_metrics", int(day)) / "part-0.parquet"
        written += publish(table.filter(pa.array(days == day)), path)
    return written
