"""Backtest charts: runs side by side with QuantStats' metrics, their curves, drawdowns, trades and paper tracking.

Every chart takes the selected runs (`run`, repeatable; none = each agent version's newest
backtest) and a period (`from`, `to`: days, both included). SQL returns one small daily series per
run (backtest_daily.sql); backtest/series.py cleans it and says what it did, and those notes go in
the panel's footer, so no number hides a dropped row.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..backtest.metrics import (
    METRICS,
    compounded,
    drawdown_periods,
    drawdown_series,
    monthly_returns,
    rolling_sharpe,
    rolling_volatility,
    tracking_error,
    yearly_returns,
)
from ..backtest.runs import TABLES, check_runs, known_runs, load_series, run_metrics
from ..backtest.series import RunSeries
from ..backtest.tearsheet import STAGES, Progress, no_progress, tearsheet_html
from ..db import Database
from ..errors import BadParameter
from .figures import (
    BLUE,
    GREEN,
    ORANGE,
    VERMILLION,
    base_figure,
    color_map,
    curve,
    empty_figure,
    stacked_figure,
    table_figure,
)
from .registry import ChartSpec, Param, get_chart, parse_params, register

RUNS = Param(
    "run", "text", [], multiple=True, help="run_id; repeat for several; none = each agent version's newest", known="run"
)
FROM = Param("from", "date", None, help="first day, YYYY-MM-DD; none = the runs' first")
TO = Param("to", "date", None, help="last day (included), YYYY-MM-DD; none = the runs' last")
FOCUS = Param("focus", "text", None, help="the run the one-run panels show; none = the first selected", known="run")
SCALE = Param("scale", "choice", "linear", choices=("linear", "log"), help="cumulative return axis")
ROLLING = Param(
    "window", "choice", "126", choices=("21", "63", "126", "252"), help="rolling window, trading days (126 = 6 months)"
)
TICKER = Param("ticker", "text", None, help="symbol whose trades are shown; none = the focus run's most traded")
PERIOD = (RUNS, FROM, TO)
WORST = 5
BENCHMARK_COLOR = "#6c757d"
TEARSHEET_STAGES = STAGES  # what tearsheet() tells its `progress` as it goes, in order: for a page's progress bar


# -- selection ------------------------------------------------------------------------------------


def selected_runs(db: Database, params: dict) -> pd.DataFrame:
    """The runs a panel shows: the `run` params, else each agent version's newest backtest."""
    if params["run"]:
        return check_runs(db, params["run"])
    runs = known_runs(db)
    backtests = runs[(runs["kind"] == "backtest") & (runs["days"] > 0)]
    newest = backtests.drop_duplicates(["agent", "agent_version"])  # the list is newest first
    return newest.sort_values(["agent", "agent_version"]).reset_index(drop=True)


def period(params: dict) -> tuple:
    """[start, end) days for SQL from the inclusive `from`/`to` params."""
    start, last = params["from"], params["to"]
    if start and last and start > last:
        raise BadParameter("from", f"must not be after to ({start} > {last})")
    return start, (last + timedelta(days=1) if last else None)


def selection(db: Database, params: dict) -> tuple[pd.DataFrame, dict[str, RunSeries], list[str]]:
    """The runs, their cleaned series and the notes each run's cleaning left ('run: note')."""
    runs = selected_runs(db, params)
    series = load_series(db, runs["run_id"].tolist(), *period(params))
    notes = [f"{run_id}: {note}" for run_id, s in series.items() for note in [*s.notes, *filter(None, [s.problem])]]
    return runs, series, notes


def focus_run(db: Database, params: dict) -> str | None:
    runs = selected_runs(db, params)["run_id"].tolist()
    if params["focus"] is None:
        return runs[0] if runs else None
    check_runs(db, [params["focus"]], param="focus")
    return params["focus"]


def _frame(rows: list, columns: list[str], notes: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["notes"] = notes
    return frame


# -- cumulative return, drawdown ------------------------------------------------------------------


def cumulative_data(db: Database, params: dict) -> pd.DataFrame:
    """Compounded cumulative return per run and of its benchmark, per day."""
    runs, series, notes = selection(db, params)
    parts = []
    for run_id, s in series.items():
        if s.problem:
            continue
        part = pd.DataFrame({"run_id": run_id, "ts": s.returns.index, "strategy": compounded(s.returns)})
        if s.benchmark is not None:
            part["benchmark"] = compounded(s.benchmark).reindex(s.returns.index).ffill().to_numpy()
        parts.append(part)
    columns = ["run_id", "ts", "strategy", "benchmark"]
    frame = pd.concat(parts, ignore_index=True).reindex(columns=columns) if parts else pd.DataFrame(columns=columns)
    frame.attrs["notes"] = notes
    return frame


def cumulative_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No usable returns for these runs in this period")
    log = params["scale"] == "log"
    fig = base_figure(
        yaxis={"title": {"text": "growth of 1" if log else "cumulative return"}, "type": "log" if log else "linear"}
        | ({} if log else {"tickformat": ".0%"}),
    )
    palette, plotted = color_map(frame["run_id"].unique()), set()
    for run_id, part in frame.groupby("run_id", sort=False):
        fig.add_trace(_line(part, "strategy", run_id, palette[run_id], log))
        benchmark = part["benchmark"]
        key = (part["ts"].iloc[0], part["ts"].iloc[-1], round(float(benchmark.iloc[-1]), 12))
        if benchmark.notna().any() and key not in plotted:  # runs on the same benchmark and days share one line
            plotted.add(key)
            fig.add_trace(_line(part, "benchmark", f"benchmark ({run_id})", BENCHMARK_COLOR, log, dash="dot"))
    return fig


def _line(
    part: pd.DataFrame, column: str, name: str, color: str, log: bool, dash: str = "solid"
) -> go.Scatter | go.Scattergl:
    y = part[column] + 1 if log else part[column]
    return curve(
        x=part["ts"],
        y=y,
        name=name,
        mode="lines",
        line={"color": color, "width": 1.6, "dash": dash},
        hovertemplate="%{y:.3f}" if log else "%{y:.2%}",
    )


def drawdown_data(db: Database, params: dict) -> pd.DataFrame:
    """Each run's drawdown from its running peak, per day (QuantStats' to_drawdown_series)."""
    _, series, notes = selection(db, params)
    parts = [
        pd.DataFrame({"run_id": run_id, "ts": s.returns.index}).assign(drawdown=drawdown_series(s.returns).to_numpy())
        for run_id, s in series.items()
        if not s.problem
    ]
    columns = ["run_id", "ts", "drawdown"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    frame.attrs["notes"] = notes
    return frame


def drawdown_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No usable returns for these runs in this period")
    fig = base_figure(yaxis={"title": {"text": "drawdown"}, "tickformat": ".0%"})
    palette = color_map(frame["run_id"].unique())
    for run_id, part in frame.groupby("run_id", sort=False):
        fig.add_trace(
            curve(
                x=part["ts"],
                y=part["drawdown"],
                name=run_id,
                mode="lines",
                fill="tozeroy",
                line={"color": palette[run_id], "width": 1.2},
                hovertemplate="%{y:.2%}",
            )
        )
    return fig


def worst_drawdowns_data(db: Database, params: dict) -> pd.DataFrame:
    """The five worst drawdown periods of each run: start, valley, end, depth, length."""
    _, series, notes = selection(db, params)
    rows = []
    for run_id, s in series.items():
        if s.problem:
            continue
        for rank, period_row in enumerate(drawdown_periods(s.returns).head(WORST).itertuples(), 1):
            recovered = period_row.end < s.returns.index[-1]  # still under water on the last day: not recovered
            rows.append(
                (
                    run_id,
                    rank,
                    period_row.start.date(),
                    period_row.valley.date(),
                    period_row.end.date(),
                    period_row.depth,
                    period_row.days,
                    recovered,
                )
            )
    return _frame(rows, ["run_id", "rank", "start", "valley", "end", "depth", "days", "recovered"], notes)


def worst_drawdowns_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    shown = frame.assign(
        depth=frame["depth"].map(lambda v: f"{v:.2%}"),
        days=frame["days"].map(lambda v: f"{v:,}"),
        end=[str(e) if r else f"{e} (not recovered)" for e, r in zip(frame["end"], frame["recovered"], strict=True)],
    )
    headers = {
        "run_id": "Run",
        "rank": "#",
        "start": "Start",
        "valley": "Valley",
        "end": "End",
        "depth": "Depth",
        "days": "Days",
    }
    raw = {"start": frame["start"], "valley": frame["valley"], "end": frame["end"], "depth": frame["depth"]}
    raw["days"] = frame["days"]
    return table_figure(
        shown, headers, "No drawdowns for these runs in this period", widths=[3.2, 0.6, 2, 2, 3, 1.5, 1], raw=raw
    )


# -- metrics --------------------------------------------------------------------------------------


def metrics_data(db: Database, params: dict) -> pd.DataFrame:
    """One row per metric, one column per run (QuantStats' functions, 252 days a year, risk-free 0)."""
    runs = selected_runs(db, params)
    results = run_metrics(db, runs["run_id"].tolist(), *period(params))
    frame = pd.DataFrame(
        {"metric": [m.key for m in METRICS], "label": [m.label for m in METRICS], "unit": [m.unit for m in METRICS]}
    )
    for result in results:
        frame[result["run_id"]] = [result[m.key] for m in METRICS]
    spans = [f"{r['run_id']}: {r['first_day']} to {r['last_day']}, {r['days']} days" for r in results if r["days"]]
    notes = [f"{r['run_id']}: {n}" for r in results for n in [*r["notes"], *filter(None, [r["problem"]])]]
    frame.attrs["notes"] = spans + notes
    frame.attrs["runs"] = [f"{r['run_id']} ({r['agent']} {r['agent_version']}, {r['kind']})" for r in results]
    return frame


def _format(value, unit: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:.2%}" if unit == "percent" else f"{value:,.0f}" if unit == "days" else f"{value:.3f}"


def metrics_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    run_columns = [c for c in frame.columns if c not in ("metric", "label", "unit")]
    if not run_columns:
        return empty_figure("No runs selected")
    if frame[run_columns].isna().all().all():
        return empty_figure("No usable returns for these runs in this period")
    shown = pd.DataFrame({"label": frame["label"]})
    for column in run_columns:
        shown[column] = [_format(v, u) for v, u in zip(frame[column], frame["unit"], strict=True)]
    headers = {"label": "Metric"} | dict(zip(run_columns, frame.attrs.get("runs", run_columns), strict=True))
    raw = {column: frame[column] for column in run_columns}
    return table_figure(shown, headers, "No runs selected", widths=[1.4] + [1.0] * len(run_columns), raw=raw)


# -- rolling, monthly, yearly, distribution -------------------------------------------------------


def rolling_data(db: Database, params: dict) -> pd.DataFrame:
    """Rolling Sharpe and annualised volatility per run over `window` trading days (QuantStats)."""
    _, series, notes = selection(db, params)
    window = int(params["window"])
    parts = []
    for run_id, s in series.items():
        if s.problem or len(s.returns) < window:
            if not s.problem:
                notes.append(f"{run_id}: {len(s.returns)} days, fewer than the {window}-day window")
            continue
        sharpe, volatility = rolling_sharpe(s.returns, window), rolling_volatility(s.returns, window)
        part = pd.DataFrame({"run_id": run_id, "ts": s.returns.index, "sharpe": sharpe, "volatility": volatility})
        parts.append(part.dropna(subset=["sharpe", "volatility"], how="all"))
    columns = ["run_id", "ts", "sharpe", "volatility"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    frame.attrs["notes"] = notes
    return frame


def rolling_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure(f"No run has {params['window']} usable days in this period")
    fig = stacked_figure([0.5, 0.5])
    palette = color_map(frame["run_id"].unique())
    for run_id, part in frame.groupby("run_id", sort=False):
        style = {"color": palette[run_id], "width": 1.4}
        fig.add_trace(
            curve(
                x=part["ts"], y=part["sharpe"], name=run_id, line=style, legendgroup=run_id, hovertemplate="%{y:.2f}"
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            curve(
                x=part["ts"],
                y=part["volatility"],
                name=run_id,
                line=style,
                legendgroup=run_id,
                showlegend=False,
                hovertemplate="%{y:.1%}",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(title_text=f"Sharpe ({params['window']}d)", row=1, col=1)
    fig.update_yaxes(title_text="volatility", tickformat=".0%", row=2, col=1)
    return fig


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def monthly_data(db: Database, params: dict) -> pd.DataFrame:
    """The focus run's compounded return per calendar month, and per year (QuantStats' monthly_returns)."""
    run_id = focus_run(db, params)
    if run_id is None:
        return _frame([], ["year", "month", "return"], ["no runs"])
    series = load_series(db, [run_id], *period(params))[run_id]
    notes = [f"{run_id}: {n}" for n in [*series.notes, *filter(None, [series.problem])]]
    if series.problem:
        return _frame([], ["year", "month", "return"], notes)
    long = monthly_returns(series.returns).stack().rename("return").reset_index()
    long.columns = ["year", "month", "return"]
    long["month"] = long["month"].map(lambda m: "Year" if m == "EOY" else m.title()[:3])
    # QuantStats fills the months before the first and after the last logged day with 0: they are blank here.
    logged = {(d.year, MONTHS[d.month - 1]) for d in series.returns.index}
    long = long[[m == "Year" or (int(y), m) in logged for y, m in zip(long["year"], long["month"], strict=True)]]
    return _frame(long.to_numpy().tolist(), ["year", "month", "return"], [f"run {run_id}", *notes])


def monthly_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No usable returns for this run in this period")
    table = frame.pivot(index="year", columns="month", values="return").reindex(columns=[*MONTHS, "Year"])
    z = table.to_numpy(dtype=float)
    text = [["" if np.isnan(v) else f"{v:.1%}" for v in row] for row in z]
    limit = max(np.nanmax(np.abs(z[:, :12])), 1e-9) if np.isfinite(z[:, :12]).any() else 1.0
    fig = base_figure(margin={"l": 56, "r": 8, "t": 8, "b": 32}, hovermode="closest")
    fig.add_trace(
        go.Heatmap(
            x=table.columns,
            y=[str(y) for y in table.index],
            z=z,
            text=text,
            texttemplate="%{text}",
            zmin=-limit,
            zmax=limit,
            colorscale="RdYlGn",
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="%{y} %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def yearly_data(db: Database, params: dict) -> pd.DataFrame:
    """Compounded return per calendar year of each run and of its benchmark."""
    _, series, notes = selection(db, params)
    rows = []
    for run_id, s in series.items():
        if s.problem:
            continue
        strategy = yearly_returns(s.returns)
        benchmark = yearly_returns(s.benchmark) if s.benchmark is not None else {}
        rows += [(run_id, int(year), value, benchmark.get(year)) for year, value in strategy.items()]
    return _frame(rows, ["run_id", "year", "strategy", "benchmark"], notes)


def yearly_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No usable returns for these runs in this period")
    fig = base_figure(barmode="group", yaxis={"tickformat": ".0%", "title": {"text": "return"}}, hovermode="x")
    palette = color_map(frame["run_id"].unique())
    for run_id, part in frame.groupby("run_id", sort=False):
        fig.add_trace(
            go.Bar(
                x=part["year"].astype(str),
                y=part["strategy"],
                name=run_id,
                marker_color=palette[run_id],
                hovertemplate="%{y:.1%}",
            )
        )
    benchmark = frame.dropna(subset=["benchmark"]).drop_duplicates("year")
    if not benchmark.empty:
        fig.add_trace(
            go.Scatter(
                x=benchmark["year"].astype(str),
                y=benchmark["benchmark"],
                name="benchmark",
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 28, "color": "#212529", "line": {"width": 2}},
                hovertemplate="%{y:.1%}",
            )
        )
    return fig


def distribution_data(db: Database, params: dict) -> pd.DataFrame:
    """Each run's and its benchmark's daily returns as shares per bin, on bins shared by all of them."""
    _, series, notes = selection(db, params)
    samples = {}
    for run_id, s in series.items():
        if s.problem:
            continue
        samples[run_id] = s.returns.to_numpy()
        if s.benchmark is not None and "benchmark" not in samples:
            samples["benchmark"] = s.benchmark.to_numpy()
    if not samples:
        return _frame([], ["series", "low", "high", "share"], notes)
    pooled = np.concatenate(list(samples.values()))
    low, high = np.quantile(pooled, [0.001, 0.999])  # the extreme 0.2% would stretch the bins; they land in the ends
    edges = np.linspace(low, high, 51) if high > low else np.array([low - 1e-4, low + 1e-4])
    rows = []
    for name, values in samples.items():
        counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
        rows += [(name, lo, hi, c / len(values)) for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    return _frame(rows, ["series", "low", "high", "share"], notes)


def distribution_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No usable returns for these runs in this period")
    fig = base_figure(
        barmode="overlay",
        xaxis={"tickformat": ".1%", "title": {"text": "daily return"}},
        yaxis={"tickformat": ".0%", "title": {"text": "share of days"}},
        hovermode="closest",
    )
    palette = color_map([s for s in frame["series"].unique() if s != "benchmark"])
    for name, part in frame.groupby("series", sort=False):
        fig.add_trace(
            go.Bar(
                x=(part["low"] + part["high"]) / 2,
                y=part["share"],
                width=part["high"] - part["low"],
                name=name,
                opacity=0.55,
                marker_color=palette.get(name, BENCHMARK_COLOR),
                hovertemplate="%{x:.2%}: %{y:.1%} of days",
            )
        )
    return fig


# -- trades, paper tracking -----------------------------------------------------------------------


def trades_data(db: Database, params: dict) -> pd.DataFrame:
    """The focus run's buys and sells of one symbol over its close, with the position they leave."""
    run_id = focus_run(db, params)
    columns = ["ts", "close", "action", "quantity", "price", "position"]
    if run_id is None:
        return _frame([], columns, ["no runs"])
    symbols = db.run("backtest_trade_symbols", run_id=run_id)
    symbol = params["ticker"] or (symbols["symbol"].iloc[0] if len(symbols) else None)
    if symbol is None:
        return _frame([], columns, [f"{run_id} logged no trades"])
    if symbol not in set(symbols["symbol"]):
        raise BadParameter("ticker", f"{run_id} has no trades in {symbol} (it traded {', '.join(symbols['symbol'])})")
    start, end = period(params)
    trades = db.run("backtest_trades", run_id=run_id, symbol=symbol, start=start, end=end)
    first_trade = pd.Timestamp(trades["ts"].min()).date() if len(trades) else None
    closes = db.run("market_closes", symbol=symbol, start=start or first_trade, end=end)
    trades["day"] = pd.to_datetime(trades["ts"]).dt.normalize()
    closes["day"] = pd.to_datetime(closes["ts"])
    frame = (
        closes[["day", "close"]].merge(trades.drop(columns="ts"), on="day", how="outer").rename(columns={"day": "ts"})
    )
    frame["position"] = frame["position"].ffill()
    frame.attrs["notes"] = [f"run {run_id}, {symbol}: {int((trades['action'] != 'hold').sum()):,} trades"]
    frame.attrs["symbol"] = symbol
    return frame[columns]


def trades_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No trades or prices for this run and symbol in this period")
    symbol = frame.attrs.get("symbol", "")
    fig = stacked_figure([0.7, 0.3])
    fig.add_trace(
        curve(
            x=frame["ts"],
            y=frame["close"],
            name=f"{symbol} close",
            mode="lines",
            line={"color": "#495057", "width": 1.2},
        ),
        row=1,
        col=1,
    )
    for action, symbol_marker, color in (("buy", "triangle-up", GREEN), ("sell", "triangle-down", VERMILLION)):
        part = frame[frame["action"] == action]
        fig.add_trace(
            go.Scatter(
                x=part["ts"],
                y=part["price"],
                name=action,
                mode="markers",
                customdata=part["quantity"],
                marker={"symbol": symbol_marker, "size": 9, "color": color},
                hovertemplate=f"{action} %{{customdata:,}} at %{{y:.2f}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        curve(
            x=frame["ts"],
            y=frame["position"],
            name="position",
            mode="lines",
            line={"shape": "hv", "color": BLUE},
            fill="tozeroy",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="position", row=2, col=1)
    return fig


def tracking_data(db: Database, params: dict) -> pd.DataFrame:
    """Paper trading against the backtest of the same agent version, both from the paper run's first day."""
    columns = ["ts", "backtest", "paper", "gap"]
    runs = known_runs(db)
    paper_traded = set(
        runs.loc[(runs["kind"] == "paper") & (runs["days"] > 0), ["agent", "agent_version"]].itertuples(
            index=False, name=None
        )
    )
    if params["focus"] is None:  # the last selected run whose version was paper-traded, else the first
        selected = selected_runs(db, params)
        traded = [r.run_id for r in selected.itertuples() if (r.agent, r.agent_version) in paper_traded]
        run_id = (traded[-1:] or selected["run_id"].tolist() or [None])[0]
    else:
        run_id = focus_run(db, params)
    if run_id is None:
        return _frame([], columns, ["no runs"])
    agent, version = runs.loc[runs["run_id"] == run_id, ["agent", "agent_version"]].iloc[0]
    same = runs[(runs["agent"] == agent) & (runs["agent_version"] == version) & (runs["days"] > 0)]
    backtest, paper = same[same["kind"] == "backtest"], same[same["kind"] == "paper"]
    if backtest.empty or paper.empty:
        missing = "paper trading" if paper.empty else "a backtest"
        return _frame([], columns, [f"{agent} {version} has no {missing} run to compare"])
    ids = [backtest["run_id"].iloc[0], paper["run_id"].iloc[0]]  # the newest of each
    series = load_series(db, ids, *period(params))
    b, p = series[ids[0]].returns, series[ids[1]].returns
    days = p.index.intersection(b.index)
    if len(days) < 2:
        return _frame([], columns, [f"{ids[1]} and {ids[0]} share fewer than 2 days in this period"])
    b, p = b.loc[days], p.loc[days]
    frame = pd.DataFrame({"ts": days, "backtest": compounded(b), "paper": compounded(p)})
    frame["gap"] = frame["paper"] - frame["backtest"]
    notes = [
        f"{ids[1]} against {ids[0]}: {len(days)} shared days, tracking error {tracking_error(p, b):.2%} a year,"
        f" correlation {b.corr(p):.3f}"
    ]
    return _frame(frame.to_numpy().tolist(), columns, notes + [f"{i}: {n}" for i in ids for n in series[i].notes])


def tracking_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No paper run and backtest of this agent version to compare in this period")
    fig = stacked_figure([0.65, 0.35])
    for column, color in (("backtest", BLUE), ("paper", ORANGE)):
        fig.add_trace(
            curve(x=frame["ts"], y=frame[column], name=column, line={"color": color}, hovertemplate="%{y:.2%}"),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
            x=frame["ts"], y=frame["gap"], name="paper − backtest", marker_color="#adb5bd", hovertemplate="%{y:.2%}"
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(tickformat=".0%", title_text="cumulative", row=1, col=1)
    fig.update_yaxes(tickformat=".1%", title_text="gap", row=2, col=1)
    return fig


# -- registry -------------------------------------------------------------------------------------

PAGE = "/backtests"
# The agent trades on the model's sentiment: drift in its inputs or outputs belongs on its charts over time.
SENTIMENT_AREAS = ("drift", "prediction")

register(
    ChartSpec(
        id="backtest.metrics",
        title="Metrics",
        page=PAGE,
        params=PERIOD,
        data=metrics_data,
        figure=metrics_figure,
        table=True,
        tables=TABLES,
        height=620,
        description="QuantStats' own functions on each run's cleaned daily returns: 252 trading days a year,"
        " risk-free rate 0.",
    )
)
register(
    ChartSpec(
        id="backtest.cumulative",
        title="Cumulative return",
        page=PAGE,
        params=(*PERIOD, SCALE),
        data=cumulative_data,
        figure=cumulative_figure,
        tables=TABLES,
        markers="agents",
        height=380,
        description="Compounded daily returns of each run; dotted: its benchmark over the same days.",
        time_axis="ts",
        alert_areas=SENTIMENT_AREAS,
    )
)
register(
    ChartSpec(
        id="backtest.drawdown",
        title="Drawdown",
        page=PAGE,
        params=PERIOD,
        data=drawdown_data,
        figure=drawdown_figure,
        tables=TABLES,
        height=300,
        description="Each run below its running peak.",
        time_axis="ts",
        alert_areas=SENTIMENT_AREAS,
    )
)
register(
    ChartSpec(
        id="backtest.worst_drawdowns",
        title="Worst drawdowns",
        page=PAGE,
        params=PERIOD,
        data=worst_drawdowns_data,
        figure=worst_drawdowns_figure,
        table=True,
        tables=TABLES,
        height=300,
        description=f"The {WORST} deepest drawdown periods per run; days are calendar days, start and end included.",
    )
)
register(
    ChartSpec(
        id="backtest.rolling",
        title="Rolling Sharpe and volatility",
        page=PAGE,
        params=(*PERIOD, ROLLING),
        data=rolling_data,
        figure=rolling_figure,
        tables=TABLES,
        height=420,
        description="Annualised over the chosen window of trading days (126 = about 6 months).",
        time_axis="ts",
        alert_areas=SENTIMENT_AREAS,
    )
)
register(
    ChartSpec(
        id="backtest.monthly",
        title="Monthly returns",
        page=PAGE,
        params=(*PERIOD, FOCUS),
        data=monthly_data,
        figure=monthly_figure,
        tables=TABLES,
        height=340,
        description="The focus run's compounded return per month and year.",
    )
)
register(
    ChartSpec(
        id="backtest.yearly",
        title="Yearly returns",
        page=PAGE,
        params=PERIOD,
        data=yearly_data,
        figure=yearly_figure,
        tables=TABLES,
        height=320,
        description="Compounded per calendar year; bars: runs, dashes: the benchmark.",
    )
)
register(
    ChartSpec(
        id="backtest.distribution",
        title="Return distribution",
        page=PAGE,
        params=PERIOD,
        data=distribution_data,
        figure=distribution_figure,
        tables=TABLES,
        height=320,
        description="Share of days per daily-return bin; the extreme 0.2% of days fall in the end bins.",
    )
)
register(
    ChartSpec(
        id="backtest.trades",
        title="Trades",
        page=PAGE,
        params=(*PERIOD, FOCUS, TICKER),
        data=trades_data,
        figure=trades_figure,
        tables=(*TABLES, "trades", "market"),
        height=420,
        description="The focus run's buys and sells of one symbol at their prices over its close, and the position"
        " they leave.",
        time_axis="ts",
        alert_areas=SENTIMENT_AREAS,
    )
)
register(
    ChartSpec(
        id="backtest.tracking",
        title="Backtest against paper trading",
        page=PAGE,
        params=(*PERIOD, FOCUS),
        data=tracking_data,
        figure=tracking_figure,
        tables=TABLES,
        height=380,
        description="The focus run's agent version (by default the last selected one that was paper-traded): its"
        " newest paper run against its newest backtest, from the paper's first day.",
        time_axis="ts",
        alert_areas=SENTIMENT_AREAS,
    )
)


def tearsheet(db: Database, args: dict, progress: Progress = no_progress) -> tuple[str, str]:
    """(file name, HTML) of QuantStats' report for one run (`run`) over the period, as the URL gives them;
    `progress(stage)` hears each of tearsheet.STAGES as it starts."""
    params, _ = parse_params(get_chart("backtest.metrics"), args, strict=True)
    if len(params["run"]) != 1:
        raise BadParameter("run", f"names one run for a tearsheet, got {len(params['run'])}")
    (run_id,) = params["run"]
    start, end = period(params)
    return f"{run_id}-tearsheet.html", tearsheet_html(db, run_id, start, end, progress)
