"""The demo generator: contract layout, determinism, and incidents where docs/data-contract.md says they are."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashapp import demo
from dashapp.contract import LABELS, TABLES

END = datetime(2026, 11, 20, 15, 37)
DAYS = 14  # the shortest period in which every incident sits at its nominal distance from END
TL = demo.timeline(END, DAYS)
PARTITIONED = ("predictions", "outcomes", "service_metrics")  # the logs, one dt= folder a day


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """One small demo shared by the module: 20,000 predictions over 14 days."""
    out = tmp_path_factory.mktemp("demo")
    return out, demo.write_demo(out, rows=20_000, days=DAYS, seed=7, end=END)


@pytest.fixture(scope="module")
def out(written) -> Path:
    return written[0]


def read(out: Path, table: str) -> pd.DataFrame:
    """Read one table the way a hive-aware reader would (dt comes from the folder name)."""
    folder, single = TABLES[table].locations(out)
    return pq.read_table(folder if folder.is_dir() else single).to_pandas()


@pytest.fixture(scope="module")
def predictions(out) -> pd.DataFrame:
    return read(out, "predictions")


@pytest.fixture(scope="module")
def outcomes(out) -> pd.DataFrame:
    return read(out, "outcomes")


def between(frame: pd.DataFrame, start: datetime, end: datetime, column: str = "ts") -> pd.Series:
    return (frame[column] >= start) & (frame[column] < end)


def test_demo_writes_every_table_in_the_contract_layout(written):
    out, counts = written
    assert list(counts) == list(TABLES)
    for name in PARTITIONED:
        files = sorted((out / name).rglob("*.parquet"))
        assert files and all(f.name == "part-0.parquet" and f.parent.name.startswith("dt=") for f in files)
        for f in files:
            table = pq.read_table(f)
            assert "dt" not in table.schema.names
            days = set(table["ts"].to_numpy().astype("datetime64[D]").astype(str))
            assert days == {f.parent.name.removeprefix("dt=")}
        assert sum(pq.read_metadata(f).num_rows for f in files) == counts[name]
    for name in set(counts) - set(PARTITIONED):
        assert pq.read_metadata(out / f"{name}.parquet").num_rows == counts[name]
    assert counts["predictions"] == 20_000
    assert counts["reference"] == 2_000
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "temporary files were left behind"


def test_timestamps_are_naive_microseconds_and_market_days_are_dates(out):
    expected = {
        "predictions": {"ts": pa.timestamp("us")},
        "outcomes": {"ts": pa.timestamp("us")},
        "market": {"ts": pa.date32()},
        "backtest_returns": {"ts": pa.date32()},
        "backtest_runs": {"created_at": pa.timestamp("us")},
        "trades": {"ts": pa.timestamp("us")},
        "pipeline_runs": {"started_at": pa.timestamp("us"), "finished_at": pa.timestamp("us")},
        "training_runs": {"finished_at": pa.timestamp("us")},
        "training_metrics": {"ts": pa.timestamp("us"), "step": pa.int64()},
    }
    for table, columns in expected.items():
        folder, single = TABLES[table].locations(out)
        path = next(folder.rglob("*.parquet")) if folder.is_dir() else single
        schema = pq.read_schema(path)
        for column, arrow_type in columns.items():
            assert schema.field(column).type == arrow_type, (table, column)


def test_demo_is_deterministic_for_a_seed_and_end(tmp_path):
    small = {"rows": 3_000, "days": DAYS, "end": END}
    demo.write_demo(tmp_path / "a", seed=3, **small)
    demo.write_demo(tmp_path / "b", seed=3, **small)
    demo.write_demo(tmp_path / "c", seed=4, **small)
    for table in TABLES:
        assert read(tmp_path / "a", table).equals(read(tmp_path / "b", table)), table
    assert not read(tmp_path / "a", "predictions").equals(read(tmp_path / "c", "predictions"))


def test_rerun_replaces_the_previous_data_set(tmp_path):
    demo.write_demo(tmp_path, rows=2_000, days=DAYS, end=END)
    (tmp_path / "trades").mkdir()
    (tmp_path / "trades" / "old.parquet").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("not a contract table")
    counts = demo.write_demo(tmp_path, rows=1_000, days=3, end=END)
    assert len(list((tmp_path / "predictions").iterdir())) == 4  # 3 days that start mid-afternoon span 4 dates
    assert read(tmp_path, "predictions")["ts"].min() >= END - timedelta(days=3)
    assert not (tmp_path / "trades").exists()
    assert counts["predictions"] == 1_000
    assert (tmp_path / "notes.txt").exists()


def test_predictions_hold_the_required_columns_and_the_features(predictions):
    assert set(TABLES["predictions"].required_names) <= set(predictions.columns)
    assert set(demo.NUMERIC_FEATURES + demo.CATEGORICAL_FEATURES) <= set(predictions.columns)
    assert predictions["request_id"].is_unique
    assert predictions["ts"].between(TL.start, END, inclusive="left").all()
    assert predictions["sentiment_score"].between(-1, 1).all()
    assert predictions["confidence"].between(0, 1).all()
    score = predictions["sentiment_score"]
    expected = np.where(score < -0.2, "negative", np.where(score > 0.2, "positive", "neutral"))
    assert (predictions["label"] == expected).all()
    assert set(predictions["label"]) == set(LABELS)
    assert set(predictions["symbol"]) == set(demo.SYMBOLS)
    assert set(predictions["status"]) <= {200, 429, 500, 504}
    assert predictions["cache_hit"].mean() == pytest.approx(0.95, abs=0.02)
    assert (predictions["language"] == "en").mean() == pytest.approx(0.92, abs=0.02)


def test_traffic_peaks_in_us_market_hours_and_dips_at_night_and_weekends(predictions):
    ts = predictions["ts"]
    weekday = ts.dt.day_of_week < 5
    market_hours = predictions[weekday & ts.dt.hour.between(14, 19)]
    night = predictions[weekday & ts.dt.hour.between(0, 5)]
    assert len(market_hours) > 4 * len(night)
    per_day = ts.dt.date.value_counts()
    weekend_days = [d for d in per_day.index if d.weekday() >= 5]
    full_weekdays = [d for d in per_day.index if d.weekday() < 5 and TL.start.date() < d < END.date()]
    assert per_day[weekend_days].mean() < 0.6 * per_day[full_weekdays].mean()


def test_latency_spike_is_slow_and_failing_only_in_its_window(predictions):
    assert TL.spike_end - TL.spike_start == timedelta(hours=3)
    assert timedelta(days=8) <= END - TL.spike_start <= timedelta(days=11)
    spike = between(predictions, TL.spike_start, TL.spike_end)
    inside, outside = predictions[spike], predictions[~spike]
    assert inside["latency_ms"].quantile(0.95) > 1_000
    assert outside["latency_ms"].quantile(0.95) < 300
    assert outside["latency_ms"].median() == pytest.approx(60, rel=0.15)
    assert (inside["status"] == 504).mean() == pytest.approx(0.08, abs=0.04)
    assert not (outside["status"] == 504).any()
    assert inside["cache_hit"].mean() < 0.8 < outside["cache_hit"].mean()


def test_canary_runs_only_in_the_last_days_and_agrees_less_with_outcomes(predictions, outcomes):
    canary = predictions[predictions["model_version"] == demo.CANARY_VERSION]
    assert TL.canary_start == datetime(2026, 11, 15, 15)
    assert canary["ts"].min() >= TL.canary_start
    assert canary["ts"].max() > END - timedelta(hours=2), "the canary is still serving at the end"
    recent = predictions[predictions["ts"] >= TL.canary_start]
    assert (recent["model_version"] == demo.CANARY_VERSION).mean() == pytest.approx(0.10, abs=0.03)
    assert set(predictions["model_version"]) == set(demo.VERSIONS)
    assert predictions.loc[predictions["ts"] < TL.version_switch, "model_version"].eq(demo.OLD_VERSION).all()
    joined = predictions.merge(outcomes, on="request_id", suffixes=("", "_outcome"))
    agreement = (joined["label"] == joined["true_label"]).groupby(joined["model_version"]).mean()
    assert agreement[demo.STABLE_VERSION] == pytest.approx(0.85, abs=0.03)
    assert agreement[demo.CANARY_VERSION] == pytest.approx(0.62, abs=0.06)


def test_outcomes_arrive_one_to_24_hours_later_and_before_the_end(predictions, outcomes):
    assert outcomes["ts"].max() < END
    assert (outcomes["dt"].astype(str) == outcomes["ts"].dt.strftime("%Y-%m-%d")).all()
    joined = predictions.merge(outcomes, on="request_id", suffixes=("", "_outcome"))
    assert len(joined) == len(outcomes)
    delay = joined["ts_outcome"] - joined["ts"]
    assert delay.min() >= timedelta(hours=1) and delay.max() <= timedelta(hours=24)
    assert joined["ts"].max() < END - timedelta(hours=24)
    old = predictions[predictions["ts"] < END - timedelta(hours=24)]
    assert len(outcomes) / len(old) == pytest.approx(0.70, abs=0.02)


def test_features_drift_over_the_last_three_days(out, predictions):
    reference = read(out, "reference")
    assert TL.drift_start == datetime(2026, 11, 17, 15)
    drifted = predictions[predictions["ts"] >= TL.drift_start + demo.DRIFT_RAMP]
    before = predictions[predictions["ts"] < TL.drift_start]
    for feature in ("headline_length", "vix"):
        assert drifted[feature].mean() > 1.2 * reference[feature].mean()
        assert before[feature].mean() == pytest.approx(reference[feature].mean(), rel=0.05)
    crypto = predictions.loc[predictions["news_category"] == "crypto", "ts"]
    assert len(crypto) > 50 and crypto.min() >= TL.drift_start
    assert "crypto" not in set(reference["news_category"])
    assert (drifted["news_category"] == "macro").mean() > 1.5 * (reference["news_category"] == "macro").mean()
    newcomers = predictions.loc[predictions["author_id"] >= f"au-{demo.AUTHORS:05d}", "ts"]
    assert newcomers.min() >= TL.drift_start
    assert set(reference.columns) == set(demo.NUMERIC_FEATURES + demo.CATEGORICAL_FEATURES) | {
        "label",
        "sentiment_score",
    }


def test_feature_build_fails_for_a_day_twelve_days_before_the_end(out):
    runs = read(out, "pipeline_runs")
    assert set(runs["pipeline"]) == {p.name for p in demo.PIPELINES}
    incident = runs[runs["error"] == demo.PIPELINE_INCIDENT_ERROR]
    assert len(incident) == 4
    assert (incident["pipeline"] == "feature_build").all() and (incident["status"] == "failed").all()
    assert incident["started_at"].between(END - timedelta(days=12, hours=1), END - timedelta(days=11)).all()
    assert runs["error"].isna().eq(runs["status"] == "success").all()
    assert (runs["finished_at"] > runs["started_at"]).all() and (runs["finished_at"] < END).all()
    other = runs[runs["error"] != demo.PIPELINE_INCIDENT_ERROR]
    assert (other["status"] == "failed").mean() < 0.02


def test_stages_after_a_failed_stage_are_not_run(out):
    runs = read(out, "pipeline_runs")
    order = {(p.name, stage): i for p in demo.PIPELINES for i, stage in enumerate(p.stages)}
    runs["position"] = [order[key] for key in zip(runs["pipeline"], runs["stage"], strict=True)]
    for _, run in runs.groupby("run_id"):
        failed = run.loc[run["status"] == "failed", "position"]
        if len(failed):
            assert run["position"].max() == failed.min()
        assert sorted(run["position"]) == list(range(len(run)))


def test_market_has_three_years_of_weekday_bars_for_every_symbol(out):
    market = read(out, "market")
    days = pd.to_datetime(market["ts"])
    assert (days.dt.day_of_week < 5).all()
    assert days.max().date() == TL.last_bar == datetime(2026, 11, 19).date()
    assert (days.max() - days.min()).days >= 3 * 365 - 7
    assert market.groupby("ts")["symbol"].nunique().eq(len(demo.SYMBOLS)).all()
    returns = market.pivot(index="ts", columns="symbol", values="close").pct_change().dropna()
    assert returns.std().mul(np.sqrt(252)).between(0.1, 0.6).all()


def test_latent_sentiment_leads_next_day_returns():
    tl = demo.timeline(END, DAYS)
    latent = demo.Latent.generate(7, tl.market_start, tl.end.date())
    market = demo.Market.generate(7, tl, latent)
    today = latent.at(market.days[:-1].astype(np.int64)[:, None], np.arange(len(demo.SYMBOLS))[None, :])
    corr = np.corrcoef(today.ravel(), (market.returns[1:] / demo.ANNUAL_VOL).ravel())[0, 1]
    assert 0.1 < corr < 0.25


def test_daily_sentiment_in_the_logs_correlates_with_next_day_returns(predictions, out):
    market = read(out, "market")
    market["next_return"] = market.groupby("symbol")["close"].pct_change().groupby(market["symbol"]).shift(-1)
    daily = predictions.groupby([predictions["ts"].dt.date.rename("ts"), "symbol"])["sentiment_score"].mean()
    joined = daily.reset_index().merge(market, on=["ts", "symbol"]).dropna()
    assert len(joined) > 80
    assert joined["sentiment_score"].corr(joined["next_return"]) > 0.05


def test_backtests_and_paper_runs_cover_their_periods(out):
    runs = read(out, "backtest_runs").set_index("run_id")
    returns = read(out, "backtest_returns")
    market_days = set(read(out, "market")["ts"])
    assert len(runs) == 5
    assert sorted(zip(runs["agent"], runs["agent_version"], runs["kind"], strict=True)) == [
        ("dqn-baseline", "1.0", "backtest"),
        ("ppo-sentiment", "2.0", "backtest"),
        ("ppo-sentiment", "2.0", "paper"),
        ("ppo-sentiment", "2.1", "backtest"),
        ("ppo-sentiment", "2.1", "paper"),
    ]
    assert "bt-ppo-2.1-20261120" in runs.index
    assert all("cost_bps" in params for params in runs["params"].map(json.loads))
    for run_id, run in returns.groupby("run_id"):
        assert set(run["ts"]) <= market_days
        assert run["exposure"].between(0, 1).all()
        if runs.loc[run_id, "kind"] == "paper":
            assert 55 < len(run) < 70, "about 90 calendar days"
            continue
        assert len(run) == len(market_days)
        r = run["strategy_return"]
        assert 0.3 < r.mean() / r.std() * np.sqrt(252) < 2.0, run_id


def max_drawdown(returns: pd.Series) -> tuple[float, object]:
    equity = (1 + returns).cumprod()
    drawdown = equity / equity.cummax() - 1
    return drawdown.min(), drawdown.idxmin()


def test_ppo_21_draws_down_in_both_backtest_and_paper(out):
    runs = read(out, "backtest_runs")
    returns = read(out, "backtest_returns")
    recent = returns[returns["ts"] >= TL.paper_start]
    for run_id in runs.loc[runs["agent_version"] == "2.1", "run_id"]:
        run = recent[recent["run_id"] == run_id].set_index("ts")["strategy_return"]
        depth, trough = max_drawdown(run)
        assert -0.35 < depth < -0.18, run_id
        assert TL.drawdown_start < trough <= TL.drawdown_end + timedelta(days=4)
    for run_id in runs.loc[runs["agent_version"] != "2.1", "run_id"]:
        run = recent[recent["run_id"] == run_id].set_index("ts")["strategy_return"]
        assert run.empty or max_drawdown(run)[0] > -0.12, run_id


def test_trades_follow_position_changes_at_the_close(out):
    trades = read(out, "trades")
    market = read(out, "market")
    assert set(trades["action"]) == {"buy", "sell", "hold"}
    assert (trades["ts"].dt.hour == 20).all()
    assert trades["quantity"].eq(0).eq(trades["action"] == "hold").all()
    priced = trades.assign(day=trades["ts"].dt.date).merge(market, left_on=["day", "symbol"], right_on=["ts", "symbol"])
    assert len(priced) == len(trades)
    assert (priced["price"] == priced["close"]).all()


def test_training_history_ends_with_a_canary_that_looked_best(out):
    training = read(out, "training_runs").sort_values("finished_at")
    assert list(training["model_version"]) == [version for version, _ in demo.TRAINING]
    assert training["model_version"].iloc[-1] == demo.CANARY_VERSION
    assert training["accuracy"].idxmax() == training.index[-1]
    assert training["accuracy"].between(0.78, 0.89).all()
    assert (training["f1"] < training["accuracy"]).all()
    assert training["finished_at"].min() >= END - timedelta(days=190)
    deployed = training.set_index("model_version")["finished_at"]
    assert deployed[demo.STABLE_VERSION] < TL.version_switch
    assert deployed[demo.CANARY_VERSION] < TL.canary_start


def test_training_curves_end_where_training_runs_do_and_one_run_overfits(out, written):
    runs = read(out, "training_runs").set_index("run_id")
    metrics = read(out, "training_metrics").sort_values(["run_id", "key", "step"])
    assert written[1]["training_metrics"] == len(metrics) < 12_000  # a few hundred steps a run
    assert set(metrics["run_id"]) == set(runs.index)
    assert set(metrics["key"]) == {"loss", "val_loss", "val_accuracy", "val_macro_f1"}
    curves = {key: part.pivot(index="step", columns="run_id", values="value") for key, part in metrics.groupby("key")}
    steps = curves["loss"].notna().sum()
    assert steps.between(*demo.CURVE_POINTS).all()
    # The chart beside it compares training_runs' numbers: the curves end exactly there.
    last = metrics.groupby(["run_id", "key"])["value"].last().unstack()
    assert (last["val_accuracy"] == runs["accuracy"]).all() and (last["val_macro_f1"] == runs["f1"]).all()
    first = metrics.groupby(["run_id", "key"])["value"].first().unstack()
    assert first["loss"].between(0.95, 1.25).all() and (last["loss"] < 0.4 * first["loss"]).all()
    assert first["val_accuracy"].between(0.3, 0.4).all()  # three labels: chance to begin with
    ended = metrics.groupby("run_id")["ts"].max()
    assert (ended < runs["finished_at"]).all() and (ended > runs["finished_at"] - timedelta(minutes=2)).all()
    # Validation loss flattens; only the overfitted run's turns up again, and it gives back accuracy for it.
    val_loss = curves["val_loss"]
    rise = {run: val_loss[run].dropna().iloc[-20:].mean() - val_loss[run].dropna().min() for run in val_loss}
    overfit = runs.index[runs["model_version"] == demo.OVERFIT_VERSION][0]
    assert rise[overfit] > 0.03
    assert all(rise[run] < 0.02 for run in rise if run != overfit)
    assert curves["val_accuracy"][overfit].max() > runs.loc[overfit, "accuracy"] + 0.01


def test_a_clean_demo_is_the_same_data_without_its_incidents(tmp_path, predictions):
    demo.write_demo(tmp_path, rows=20_000, days=DAYS, seed=7, end=END, incidents=False)
    clean, outcomes = read(tmp_path, "predictions"), read(tmp_path, "outcomes")
    calm = between(clean, TL.start, TL.spike_start)
    pd.testing.assert_frame_equal(clean[calm], predictions[between(predictions, TL.start, TL.spike_start)])
    assert not (clean["status"] == 504).any() and clean["cache_hit"].mean() > 0.93  # no latency spike
    assert clean["author_id"].max() < f"au-{demo.AUTHORS:05d}" and "crypto" not in set(clean["news_category"])
    recent = clean[clean["ts"] >= TL.canary_start]
    assert (recent["model_version"] == demo.CANARY_VERSION).mean() == pytest.approx(0.10, abs=0.03)
    latency = recent.groupby("model_version")["latency_ms"].median()
    assert latency[demo.CANARY_VERSION] == pytest.approx(latency[demo.STABLE_VERSION], rel=0.1)
    joined = recent.merge(outcomes, on="request_id")
    agreement = (joined["label"] == joined["true_label"]).groupby(joined["model_version"]).mean()
    assert agreement[demo.CANARY_VERSION] == pytest.approx(0.85, abs=0.05)
    assert not (read(tmp_path, "pipeline_runs")["status"] == "failed").any()


def test_the_demo_command_writes_a_clean_data_set_on_request(monkeypatch, tmp_path):
    from dashapp.cli import main

    calls = []
    monkeypatch.setattr(demo, "write_demo", lambda out, **options: calls.append(options) or {})
    assert main(["demo", "--out", str(tmp_path), "--no-incidents"]) == 0
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert [call["incidents"] for call in calls] == [False, True]
