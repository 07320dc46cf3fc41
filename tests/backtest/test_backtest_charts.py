"""The Backtests page's charts and tearsheet on bad runs: a message on the panel, never an exception."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashapp.charts import REGISTRY, get_chart, render
from dashapp.config import Config
from dashapp.db import Database
from dashapp.errors import BadParameter
from tests.fixtures import backtests, write_single

BACKTEST_CHARTS = sorted(c for c in REGISTRY if c.startswith("backtest."))
DAYS = pd.bdate_range("2024-01-01", periods=40)


@pytest.fixture
def edge_db(tmp_path):
    """The fixture runs plus one run per bad input the issue names."""
    tables = backtests()
    good = np.random.default_rng(5).normal(0.0005, 0.01, len(DAYS))
    holes = good.copy()
    holes[[2, 5]] = [np.nan, np.inf]
    edge = {
        "one-day": pd.DataFrame({"ts": DAYS[:1].date, "strategy_return": [0.01]}),
        "all-zero": pd.DataFrame({"ts": DAYS.date, "strategy_return": 0.0}),
        "holes": pd.DataFrame({"ts": DAYS.date, "strategy_return": holes}),
        "gappy": pd.DataFrame({"ts": DAYS.delete(range(10, 25)).date, "strategy_return": good[:25]}),
        "doubled": pd.DataFrame(
            {
                "ts": np.concatenate([DAYS.date, DAYS[:3].date]),
                "strategy_return": np.concatenate([good, good[:3] + 0.01]),
            }
        ),  # fmt: skip
    }
    returns = pd.concat([tables["backtest_returns"], *(f.assign(run_id=r) for r, f in edge.items())])
    runs = pd.concat(
        [tables["backtest_runs"], pd.DataFrame({"run_id": list(edge), "agent": "edge", "agent_version": "0",
                                                "kind": "backtest", "created_at": pd.Timestamp("2024-04-02")})]
    )  # fmt: skip
    for table, frame in {**tables, "backtest_returns": returns, "backtest_runs": runs}.items():
        write_single(tmp_path, table, frame)
    return Database(Config.from_env(data_dir=tmp_path, cache_dir=tmp_path / "cache"))


@pytest.mark.parametrize("chart_id", BACKTEST_CHARTS)
def test_every_backtest_chart_renders_bad_runs_with_notes_not_errors(edge_db, chart_id):
    args = {"run": ["one-day", "all-zero", "holes", "gappy", "doubled", "bt-ppo-2.1"]}
    rendered = render(get_chart(chart_id), args, edge_db)
    go.Figure(rendered.figure).to_json()
    notes = " | ".join(rendered.notes)
    if chart_id not in ("backtest.monthly", "backtest.trades", "backtest.tracking"):  # one-run panels
        assert "one-day: 1 usable daily return: at least 2 needed" in notes
        assert "doubled: 3 days logged twice with different values (first 2024-01-01): fix the log" in notes
        assert "holes: 2 missing or non-finite returns dropped (first 2024-01-03)" in notes
        assert "gappy: 1 gap over 5 days, not filled (longest 24 days after 2024-01-12)" in notes
        assert "all-zero: every return is 0: ratios are undefined" in notes


def test_the_metrics_table_shows_a_dash_where_a_metric_is_undefined(edge_db):
    frame = render(get_chart("backtest.metrics"), {"run": ["all-zero", "holes"]}, edge_db).data.set_index("metric")
    assert frame.loc["total_return", "all-zero"] == 0 and pd.isna(frame.loc["sharpe", "all-zero"])
    assert pd.isna(frame.loc["beta", "holes"])  # no benchmark logged
    assert frame.loc["sharpe", "holes"] is not None


@pytest.mark.parametrize(
    ("args", "param", "message"),
    [
        ({"run": ["nope"]}, "run", "names no known run: nope"),
        ({"focus": ["nope"]}, "focus", "names no known run: nope"),
        ({"from": ["2024-03-01"], "to": ["2024-01-01"]}, "from", "must not be after to"),
        ({"ticker": ["TSLA"], "focus": ["bt-ppo-2.1"]}, "ticker", "bt-ppo-2.1 has no trades in TSLA"),
    ],
)
def test_a_bad_parameter_names_itself(edge_db, args, param, message):
    chart = "backtest.trades" if param in ("focus", "ticker") else "backtest.metrics"
    with pytest.raises(BadParameter, match=message) as raised:
        render(get_chart(chart), args, edge_db)
    assert raised.value.param == param


def test_the_tearsheet_api_serves_a_complete_html_report_and_names_bad_runs(client):
    response = client.get("/api/backtests/bt-ppo-2.1/tearsheet.html?from=2023-06-01")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'filename="bt-ppo-2.1-tearsheet.html"' in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert "<!DOCTYPE html>" in body[:200] and body.rstrip().endswith("</html>") and "Sharpe" in body
    unknown = client.get("/api/backtests/nope/tearsheet.html").get_json()
    assert (unknown["status"], unknown["param"]) == (400, "run")
    bad_date = client.get("/api/backtests/bt-ppo-2.1/tearsheet.html?from=2023-02-30").get_json()
    assert bad_date["param"] == "from"
    empty = client.get("/api/backtests/bt-ppo-2.1/tearsheet.html?from=2030-01-01").get_json()
    assert empty["error"] == "run: bt-ppo-2.1: no daily returns in this period"


def test_worst_drawdowns_are_ranked_and_an_open_one_is_not_recovered(edge_db):
    frame = render(get_chart("backtest.worst_drawdowns"), {"run": ["bt-ppo-2.0", "holes"]}, edge_db).data
    for run_id, part in frame.groupby("run_id"):
        assert part["rank"].tolist() == list(range(1, len(part) + 1)) and len(part) <= 5
        assert part["depth"].is_monotonic_increasing and (part["depth"] < 0).all()
        last_day = {"bt-ppo-2.0": pd.Timestamp("2024-03-29"), "holes": DAYS[-1]}[run_id].date()
        assert (part["recovered"] == (part["end"] < last_day)).all()
