"""queries/correlation_*.sql and the correlation_grid macro: the daily grid and pandas-equal correlations."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from dashapp.config import Config
from dashapp.db import Database
from tests.fixtures import write_partitioned, write_single

START, END = datetime(2024, 1, 1), datetime(2024, 1, 31)
VARIABLES = ["sentiment", "news", "return_same", "return_next", "net_action"]


@pytest.fixture(scope="module")
def corr_db(tmp_path_factory):
    """Thirty days of news for three symbols; market for two (ties in TSLA's closes), trades of one run."""
    rng = np.random.default_rng(9)
    data = tmp_path_factory.mktemp("corr")
    rows = []
    for day in pd.date_range(START, END - pd.Timedelta(days=1)):
        for symbol in ("AAPL", "MSFT", "NVDA"):
            for _ in range(int(rng.integers(1, 6))):
                ts = day + pd.Timedelta(minutes=int(rng.integers(0, 1440)))
                rows.append((ts, f"r{len(rows)}", symbol, "v1" if rng.random() < 0.8 else "v2",
                             float(np.round(rng.normal(0.1, 0.5), 2))))  # fmt: skip
    predictions = pd.DataFrame(rows, columns=["ts", "request_id", "symbol", "model_version", "sentiment_score"])
    predictions = predictions.assign(
        ts=predictions["ts"].astype("datetime64[us]"), confidence=0.8, label="neutral", latency_ms=10.0, status=200
    )
    write_partitioned(data, "predictions", predictions)
    days = pd.bdate_range("2023-12-29", "2024-02-02")
    closes = {
        "AAPL": 100 * np.cumprod(1 + rng.normal(0, 0.02, len(days))),
        "MSFT": np.round(rng.uniform(9, 11, len(days))),
    }
    market = pd.concat(pd.DataFrame({"ts": days.date, "symbol": s, "close": c}) for s, c in closes.items())
    write_single(data, "market", market)
    trades = pd.DataFrame(
        {"run_id": "bt-1", "ts": (days + pd.Timedelta(hours=20)).as_unit("us").repeat(2),
         "symbol": np.tile(["AAPL", "MSFT"], len(days)), "action": rng.choice(["buy", "sell", "hold"], 2 * len(days)),
         "quantity": 1.0, "price": 1.0}
    )  # fmt: skip
    write_single(data, "trades", trades)
    return Database(Config.from_env(data_dir=data)), predictions, market, trades


def grid(db, **params) -> pd.DataFrame:
    base = {"start": START, "end": END, "symbol": [], "model_version": None, "run_id": "bt-1"}
    return db.run("correlation_grid", **(base | params))


def test_the_grid_has_each_days_sentiment_news_returns_and_net_action(corr_db):
    db, predictions, market, trades = corr_db
    frame = grid(db)
    assert len(frame) == 30 * 3
    news = predictions.assign(day=predictions["ts"].dt.normalize()).groupby(["day", "symbol"])["sentiment_score"]
    row = frame[(frame["symbol"] == "AAPL") & (frame["day"] == pd.Timestamp("2024-01-10"))].iloc[0]
    assert row["news"] == news.size()[(pd.Timestamp("2024-01-10"), "AAPL")]
    assert row["sentiment"] == pytest.approx(news.mean()[(pd.Timestamp("2024-01-10"), "AAPL")])
    aapl = market[market["symbol"] == "AAPL"].set_index("ts")["close"]
    day, before, after = (
        pd.Timestamp("2024-01-10").date(),
        pd.Timestamp("2024-01-09").date(),
        pd.Timestamp("2024-01-11").date(),
    )
    assert row["return_same"] == pytest.approx(aapl[day] / aapl[before] - 1)
    assert row["return_next"] == pytest.approx(aapl[after] / aapl[day] - 1)
    traded = trades[(trades["symbol"] == "AAPL") & (trades["ts"].dt.date == day)]["action"]
    assert row["net_action"] == (traded == "buy").sum() - (traded == "sell").sum()
    saturday = frame[(frame["symbol"] == "AAPL") & (frame["day"] == pd.Timestamp("2024-01-13"))].iloc[0]
    assert pd.isna(saturday["return_same"]) and saturday["net_action"] == 0  # no market day: no return
    assert frame.loc[frame["symbol"] == "NVDA", "return_same"].isna().all()  # no market data at all
    assert grid(db, run_id=None)["net_action"].isna().all()
    assert set(grid(db, symbol=["MSFT"], model_version="v2")["symbol"]) == {"MSFT"}


@pytest.mark.parametrize("method", ["pearson", "spearman"])
@pytest.mark.parametrize("per_symbol", [False, True])
def test_correlations_equal_pandas_pairwise_complete_corr(corr_db, method, per_symbol):
    db = corr_db[0]
    params = {"start": START, "end": END, "symbol": [], "model_version": None, "run_id": "bt-1"}
    frame = db.run("correlation_matrix", **params, method=method, per_symbol=per_symbol)
    cells = grid(db)
    groups = cells.groupby("symbol") if per_symbol else [(None, cells)]
    checked = 0
    for symbol, part in groups:
        want = part[VARIABLES].astype(float).corr(method=method)
        got = frame[frame["symbol"].isna()] if symbol is None else frame[frame["symbol"] == symbol]
        for row in got.itertuples():
            expected = want.loc[row.x, row.y]
            assert row.n == part[[row.x, row.y]].dropna().shape[0]
            if np.isnan(expected):
                assert pd.isna(row.corr), (symbol, row.x, row.y)
            else:
                assert row.corr == pytest.approx(expected, abs=1e-9), (symbol, row.x, row.y)
            checked += 1
    assert checked >= 10
    if per_symbol:  # NVDA has no market data: its return pairs have no rows, so no correlation is claimed
        nvda = frame[frame["symbol"] == "NVDA"]
        assert set(nvda["x"]) | set(nvda["y"]) <= {"sentiment", "news", "net_action"}
        constant = nvda[(nvda["x"] == "net_action") | (nvda["y"] == "net_action")]
        assert len(constant) == 2 and constant["corr"].isna().all()  # net action is 0 throughout: undefined


BASE = {"start": START, "end": END, "symbol": [], "model_version": None}


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_lead_lag_equals_pandas_on_trading_days_shifted_per_symbol(corr_db, method):
    db = corr_db[0]
    frame = db.run("correlation_lead_lag", **BASE, method=method).set_index("lag")
    trading = grid(db, run_id=None).dropna(subset=["return_same", "sentiment"]).sort_values(["symbol", "day"])
    assert frame.index.tolist() == list(range(-5, 6))
    for lag in range(-5, 6):
        later = trading.groupby("symbol")["return_same"].shift(-lag)  # the return `lag` trading days later
        pairs = pd.DataFrame({"s": trading["sentiment"], "r": later}).dropna()
        assert frame.loc[lag, "n"] == len(pairs)
        assert frame.loc[lag, "corr"] == pytest.approx(pairs["s"].corr(pairs["r"], method=method), abs=1e-9)


def test_rolling_correlation_equals_pandas_rolling_corr_per_symbol(corr_db):
    db = corr_db[0]
    frame = db.run("correlation_rolling", **BASE, window=7)
    known = grid(db, run_id=None).dropna(subset=["sentiment", "return_next"]).sort_values(["symbol", "day"])
    for symbol, part in known.groupby("symbol"):
        want = part["sentiment"].rolling(7).corr(part["return_next"]).to_numpy()
        got = frame.loc[frame["symbol"] == symbol, "corr"].to_numpy(dtype=float)
        np.testing.assert_allclose(got, want, atol=1e-9, equal_nan=True)
    assert set(frame["symbol"]) == {"AAPL", "MSFT"}  # NVDA has no market data, so no next-day returns


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_cross_symbol_sentiment_correlation_equals_pandas(corr_db, method):
    db = corr_db[0]
    frame = db.run("correlation_symbols", **BASE, method=method)
    wide = grid(db, run_id=None).pivot(index="day", columns="symbol", values="sentiment")
    want = wide.corr(method=method)
    assert len(frame) == 3
    for row in frame.itertuples():
        assert row.corr == pytest.approx(want.loc[row.a, row.b], abs=1e-9)
        assert row.n == wide[[row.a, row.b]].dropna().shape[0]


def test_market_symbols_list_each_symbols_first_and_last_day(corr_db):
    frame = corr_db[0].run("market_symbols")
    assert frame["symbol"].tolist() == ["AAPL", "MSFT"]
    assert frame["first_day"].astype(str).tolist() == ["2023-12-29", "2023-12-29"]


def test_a_symbol_without_market_data_is_named_on_the_correlation_panels(corr_db):
    from dashapp.charts import get_chart, render

    args = {"start": ["2024-01-01"], "end": ["2024-01-31"]}
    for chart_id in ("correlation.matrix", "correlation.lead_lag", "correlation.rolling"):
        notes = render(get_chart(chart_id), args, corr_db[0]).notes
        assert "no market data for NVDA: no returns for them" in notes, chart_id
    only_aapl = render(get_chart("correlation.matrix"), {**args, "symbol": ["AAPL"]}, corr_db[0]).notes
    assert not any("no market data" in n for n in only_aapl)
