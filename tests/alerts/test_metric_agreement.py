"""One home per metric: the page, the alert, /metrics and the CLI show the same number and the same decision.

On the alert tests' demo data (enough requests, outcomes and values per bucket for every alert to have a value; the
tiny shared fixture has none above the alerts' minimum counts). The pages are read through the chart registry's
data path, the alerts through metric_frame and the store the scheduler writes, /metrics through the Flask test
client, and the CLI through its main function.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from dashapp import cli, create_app
from dashapp.alerts.metrics import Span, metric_frame
from dashapp.alerts.rules import configured_rules
from dashapp.alerts.store import open_store
from dashapp.charts import get_chart
from dashapp.charts.drift import heatmap_figure
from dashapp.charts.registry import parse_params
from dashapp.config import Config
from dashapp.db import Database
from dashapp.prometheus import EXPORTED
from tests.fixtures import evaluate_alerts

DAY = timedelta(days=1)
# Whole days inside the demo (2024-05-29 15:30 .. 2024-06-28 15:30).
DAYS = [d.to_pydatetime() for d in pd.date_range("2024-05-30", "2024-06-27")]
VERSIONS = ["sent-v1.3.0", "sent-v1.4.2", "sent-v1.5.0-rc1"]
SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA"]
AT = datetime(2024, 6, 26, 15)  # the evaluation instant of the store /metrics and `dashapp alerts` read: a busy hour


def last_bucket(at: datetime, bucket: timedelta) -> tuple[datetime, datetime]:
    """The newest bucket an evaluation at `at` has: the one that ends at the first boundary at or after it."""
    end = pd.Timestamp(at).ceil(bucket).to_pydatetime()
    return end - bucket, end


# The default rules whose metric a page shows as a number.
RULES = (
    "feature_drift",
    "share_of_features_drifted",
    "prediction_label_drift",
    "low_accuracy",
    "latency_p95",
    "error_rate",
    "feature_cache_hit_rate",
)


def some_rules(path: Path, names: tuple[str, ...]) -> Path:
    """The shipped rules file with only the named rules (each evaluation then takes seconds, not minutes)."""
    blocks = re.split(r"^\[\[rule\]\]$", Config().alert_rules.read_text(), flags=re.M)
    kept = [b for b in blocks[1:] if re.search(r'^name = "(\w+)"', b, re.M).group(1) in names]
    path.write_text("".join(f"[[rule]]{b}" for b in kept))
    return path


@pytest.fixture(scope="module")
def config(alert_demo, tmp_path_factory) -> Config:
    root = tmp_path_factory.mktemp("agreement")
    config = Config(
        data_dir=alert_demo,
        cache_type="filesystem",
        cache_dir=root / "cache",
        state_dir=root / "state",
        workers=1,
        alert_history_days=1,
        alert_rules=some_rules(root / "rules.toml", RULES),
    )
    evaluate_alerts(config, AT)
    return config


@pytest.fixture(scope="module")
def db(config) -> Database:
    return Database(config)


def page(db: Database, chart: str, start: datetime, end: datetime, **args) -> pd.DataFrame:
    """A chart's data as its panel gets it for the URL's parameters."""
    spec = get_chart(chart)
    query = {"start": [start.isoformat()], "end": [end.isoformat()]} | {k: v for k, v in args.items() if v}
    params, _ = parse_params(spec, query, strict=True)
    return spec.data(db, params)


def kpi(db: Database, start: datetime, end: datetime, **filters) -> dict[str, float]:
    frame = page(db, "overview.kpis", start, end, **filters)
    return frame.set_index("metric")["current"].to_dict()


def alert_values(db: Database, name: str, start: datetime, bucket: timedelta) -> pd.DataFrame:
    return metric_frame(db, name, Span(start, start + bucket, int(bucket.total_seconds())))


def by(frame: pd.DataFrame, label: str, column: str = "value") -> dict:
    return dict(zip(frame[label], frame[column], strict=True))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(day=datetime(2024, 6, 20), version=None, symbols=[])  # every comparison, drift's too, runs at least once
@example(day=datetime(2024, 6, 25), version="sent-v1.5.0-rc1", symbols=[])  # the canary's own series
@given(
    day=st.sampled_from(DAYS),
    version=st.sampled_from([None, *VERSIONS]),
    symbols=st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=2),
)
def test_each_page_and_its_alert_show_the_same_number_for_a_day(db, day, version, symbols):
    start, end = day, day + DAY
    filters = {"model_version": [version] if version else [], "symbol": symbols}
    kpis = kpi(db, start, end, **filters)
    daily = {"bucket": ["1d"], **filters}

    # Overview's headline numbers and Operations' charts over the same day.
    cache = page(db, "ops.cache_hit", start, end, **daily)
    assert cache["value"].tolist() == pytest.approx([kpis["cache_hit_rate"]] if len(cache) else [])
    errors = page(db, "ops.error_rate", start, end, **daily)
    latency = page(db, "ops.latency", start, end, **daily)
    if len(errors) == 1:  # one version served the day (or the filter picked one): its line is the day's number
        assert errors["value"].iloc[0] == pytest.approx(kpis["error_rate"])
        assert latency["p95_ms"].iloc[0] == pytest.approx(kpis["p95_latency_ms"])

    # Accuracy: Overview's chart and Sentiment's.
    overview = page(db, "overview.accuracy", start, end, **filters)
    sentiment = page(db, "sentiment.accuracy", start, end, **filters)
    assert by(overview, "model_version", "accuracy") == pytest.approx(by(sentiment, "model_version", "accuracy"))

    if symbols:
        return  # the alerts watch every symbol
    accuracy = alert_values(db, "model.accuracy", start, DAY)
    shown = by(sentiment[sentiment["with_outcome"] >= 100], "model_version", "accuracy")
    assert by(accuracy[accuracy["model_version"].isin(shown)], "model_version") == pytest.approx(shown)
    assert set(accuracy["model_version"]) >= set(shown)
    p95 = alert_values(db, "ops.latency_p95_ms", start, DAY)
    p95 = p95[p95["model_version"].isin(latency["model_version"])]
    assert by(p95, "model_version") == pytest.approx(by(latency[latency["requests"] >= 50], "model_version", "p95_ms"))
    if version:
        return  # the other alerts watch every version
    assert alert_values(db, "ops.error_rate", start, DAY)["value"].tolist() == pytest.approx([kpis["error_rate"]])
    assert alert_values(db, "ops.cache_hit_rate", start, DAY)["value"].tolist() == pytest.approx(
        [kpis["cache_hit_rate"]]
    )

    # Drift: the heatmap's day, the feature table over the day, the prediction drift over the day.
    heatmap = page(db, "drift.heatmap", start, end, bucket=["1d"])
    tested = heatmap[~heatmap["high_cardinality"].astype(bool)].dropna(subset=["psi_reference"])
    psi = alert_values(db, "drift.psi", start, DAY)
    assert by(psi, "feature") == pytest.approx(by(tested, "feature", "psi_reference"))
    features = page(db, "drift.features", start, end)
    assert by(features[features["feature"].isin(psi["feature"])], "feature", "psi") == pytest.approx(by(psi, "feature"))
    assert by(features[features["feature"].isin(psi["feature"])], "feature", "status") == by(psi, "feature", "status")
    drifted = (tested["psi_reference"] >= db.config.drift_psi_warning).mean()
    assert alert_values(db, "drift.share_drifted", start, DAY)["value"].tolist() == pytest.approx([drifted])
    shown = re.match(r"(\d+) of (\d+) features drifted", features.attrs["notes"][0])  # the feature table's note
    assert int(shown[1]) / int(shown[2]) == pytest.approx(drifted)
    kl = page(db, "drift.prediction", start, end).attrs["labels"].kl_divergence
    assert alert_values(db, "prediction.label_kl", start, DAY)["value"].tolist() == pytest.approx([kl])


# -- /metrics and the CLI read the store the scheduler wrote --------------------------------------------------


def scrape(config: Config) -> list:
    body = create_app(config).server.test_client().get("/metrics").get_data(as_text=True)
    return [s for f in text_string_to_metric_families(body) for s in f.samples]


def exported(samples: list, rule: str, name: str = "dashapp_alert_value") -> dict[tuple, float]:
    """A rule's series on /metrics: {its labels that are set, but alertstate and severity: value}."""
    skip = {"alertname", "alertstate", "severity"}
    return {
        tuple(sorted((k, v) for k, v in s.labels.items() if v and k not in skip)): s.value
        for s in samples
        if s.name == name and s.labels.get("alertname") == rule
    }


def run_cli(argv: list[str], capsys, config: Config, monkeypatch, **settings) -> str:
    for name, value in {
        "DASHAPP_DATA_DIR": config.data_dir,
        "DASHAPP_STATE_DIR": config.state_dir,
        "DASHAPP_CACHE_DIR": config.cache_dir,
        "DASHAPP_ALERT_RULES": config.alert_rules,
        "DASHAPP_ALERT_HISTORY_DAYS": config.alert_history_days,
        **settings,
    }.items():
        monkeypatch.setenv(name, str(value))
    capsys.readouterr()
    cli.main(argv)
    return capsys.readouterr().out


def cli_alerts(capsys, config, monkeypatch, **settings) -> dict[tuple, dict]:
    out = run_cli(["alerts", "--json", "--at", AT.isoformat()], capsys, config, monkeypatch, **settings)
    return {(a["rule"], tuple(sorted(a["labels"].items()))): a for a in json.loads(out)}


def pages_at(db: Database, at: datetime) -> dict[str, dict[tuple, float]]:
    """Each rule's number as its page shows it over the rule's newest bucket at `at`: {rule: {labels: value}}."""
    quarter, day = last_bucket(at, timedelta(minutes=15)), last_bucket(at, DAY)
    kpis = kpi(db, *quarter)
    latency = page(db, "ops.latency", *quarter, bucket=["15m"])
    heatmap = page(db, "drift.heatmap", *day, bucket=["1d"])
    tested = heatmap[~heatmap["high_cardinality"].astype(bool)].dropna(subset=["psi_reference"])
    accuracy = page(db, "sentiment.accuracy", *day)
    accuracy = accuracy[accuracy["with_outcome"] >= 100]
    return {
        "error_rate": {(): kpis["error_rate"]},
        "feature_cache_hit_rate": {(): kpis["cache_hit_rate"]},
        "latency_p95": {
            (("model_version", v),): ms
            for v, ms in by(latency[latency["requests"] >= 50], "model_version", "p95_ms").items()
        },
        "low_accuracy": {(("model_version", v),): a for v, a in by(accuracy, "model_version", "accuracy").items()},
        "feature_drift": {(("feature", f),): p for f, p in by(tested, "feature", "psi_reference").items()},
        "share_of_features_drifted": {(): (tested["psi_reference"] >= db.config.drift_psi_warning).mean()},
        "prediction_label_drift": {(): page(db, "drift.prediction", *day).attrs["labels"].kl_divergence},
    }


def test_metrics_and_the_cli_show_the_pages_numbers_for_the_last_bucket(config, db, capsys, monkeypatch):
    pages = pages_at(db, AT)
    samples = scrape(config)
    cli = cli_alerts(capsys, config, monkeypatch)
    metrics = {rule.name: rule.metric for rule in configured_rules(config)}
    for rule, numbers in pages.items():
        assert numbers, rule
        factor = EXPORTED[metrics[rule]][1]  # /metrics exports base units: seconds, not ms
        assert exported(samples, rule) == pytest.approx({k: v * factor for k, v in numbers.items()}), rule
        assert {labels: a["value"] for (name, labels), a in cli.items() if name == rule} == pytest.approx(numbers), rule


@pytest.mark.parametrize("move", ["critical", "warning", "ok"])
def test_the_psi_settings_move_the_page_the_alert_metrics_and_the_cli_together(config, capsys, monkeypatch, move):
    day, end = last_bucket(AT, DAY)
    heatmap = page(Database(config), "drift.heatmap", day, end, bucket=["1d"])
    tested = heatmap[~heatmap["high_cardinality"].astype(bool)].dropna(subset=["psi_reference"])
    top = float(tested["psi_reference"].max())  # the most drifted feature the alert watches
    warning, critical = {"critical": (top / 4, top / 2), "warning": (top / 2, top * 2), "ok": (top * 2, top * 4)}[move]
    moved = replace(
        config,
        drift_psi_warning=warning,
        drift_psi_critical=critical,
        state_dir=config.state_dir.parent / f"state-{move}",
        alert_rules=some_rules(config.state_dir.parent / f"{move}.toml", ("feature_drift",)),
    )
    evaluate_alerts(moved, AT)
    db = Database(moved)
    feature = tested.loc[tested["psi_reference"].idxmax(), "feature"]

    features = page(db, "drift.features", day, end).set_index("feature")
    assert features.loc[feature, "status"] == move
    colours = heatmap_figure(page(db, "drift.heatmap", day, end, bucket=["1d"]), {"reference": "reference"})
    assert list(colours.data[0].colorbar.tickvals[1:3]) == pytest.approx([warning, critical])
    (alert,) = [
        a for a in open_store(moved).load().alerts(configured_rules(moved), AT) if a.labels == {"feature": feature}
    ]
    assert (alert.severity or "ok") == move

    samples = scrape(moved)
    states = [s for s in samples if s.name == "dashapp_alert" and s.labels.get("feature") == feature]
    assert [s.labels["severity"] or "ok" for s in states] == [move]
    lines = {s.labels["severity"]: s.value for s in samples if s.name == "dashapp_alert_threshold"}
    assert lines == pytest.approx({"warning": warning, "critical": critical})

    settings = {"DASHAPP_DRIFT_PSI_WARNING": warning, "DASHAPP_DRIFT_PSI_CRITICAL": critical}
    argv = ["drift", "--data", str(moved.data_dir), "--start", day.isoformat(), "--end", end.isoformat(), "--json"]
    drift = {r["feature"]: r["status"] for r in json.loads(run_cli(argv, capsys, moved, monkeypatch, **settings))}
    assert drift[feature] == move
    alerts = cli_alerts(capsys, moved, monkeypatch, **settings)
    assert (alerts[("feature_drift", (("feature", feature),))]["severity"] or "ok") == move
