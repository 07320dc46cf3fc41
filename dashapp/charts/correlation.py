"""Correlation charts: does the sentiment signal still move markets and the agent?

All four read the daily grid per symbol (queries/view_correlation_grid.sql): mean sentiment, news
items, same-day and next-day return, and the agent's net action. Correlations are computed in
DuckDB over the whole window (pairwise-complete, average ranks for Spearman, as pandas does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..backtest.runs import known_runs
from ..db import Database
from ..errors import DataUnavailable
from .figures import base_figure, color_map, curve, empty_figure
from .registry import FILTERS, ChartSpec, Param, register

METHOD = Param("method", "choice", "pearson", choices=("pearson", "spearman"), help="correlation: pearson or spearman")
BY = Param("by", "choice", "pooled", choices=("pooled", "symbol"), help="one matrix over all symbols, or per symbol")
ROLLING = Param("rolling", "choice", "10", choices=("5", "10", "20", "60"), help="rolling window, trading days")
RUN = Param(
    "agent_run",
    "text",
    None,
    help="the agent run whose trades give the net action; none = the newest paper run",
    known="run",
)
# The runs tables choose the default agent run (agent_run()).
TABLES = ("predictions", "market", "trades", "backtest_runs", "backtest_returns")
LABELS = {
    "sentiment": "mean sentiment",
    "news": "news items",
    "return_same": "return (same day)",
    "return_next": "return (next day)",
    "net_action": "agent net action",
}
MIN_ROWS = 3  # fewer rows than this give no correlation worth showing
SCALE = [(0.0, "#b2182b"), (0.5, "#f7f7f7"), (1.0, "#2166ac")]


def agent_run(db: Database, params: dict) -> str | None:
    """The run whose trades count: `agent_run`, else the newest paper run, else the newest backtest."""
    if params["agent_run"]:
        return params["agent_run"]
    try:
        runs = known_runs(db)
    except DataUnavailable:
        return None
    runs = runs[runs["days"] > 0]
    paper = runs[runs["kind"] == "paper"]
    chosen = paper if len(paper) else runs
    return chosen["run_id"].iloc[0] if len(chosen) else None


def market_gaps(db: Database, params: dict) -> list[str]:
    """Notes naming the chosen (or logged) symbols that market has no bars for."""
    bars = set(db.run("market_symbols")["symbol"])
    options = db.run("meta_filter_options")
    wanted = params["symbol"] or options.loc[options["kind"] == "symbol", "value"].tolist()
    missing = sorted(set(wanted) - bars)
    return [f"no market data for {', '.join(missing)}: no returns for them"] if missing else []


def _window(params: dict) -> dict:
    return {k: params[k] for k in ("start", "end", "symbol", "model_version")}


def matrix_data(db: Database, params: dict) -> pd.DataFrame:
    run_id = agent_run(db, params)
    frame = db.run(
        "correlation_matrix",
        **_window(params),
        run_id=run_id,
        method=params["method"],
        per_symbol=params["by"] == "symbol",
    )
    undefined = frame[frame["corr"].isna() | (frame["n"] < MIN_ROWS)]
    notes = [f"net action from run {run_id}" if run_id else "no agent run: net action left out"]
    notes += market_gaps(db, params)
    if len(undefined):
        pairs = ", ".join(
            f"{(r.symbol + ': ') if isinstance(r.symbol, str) else ''}{LABELS[r.x]} × {LABELS[r.y]}"
            for r in undefined.head(6).itertuples()
        )
        more = f" and {len(undefined) - 6} more" if len(undefined) > 6 else ""
        notes.append(f"undefined (a constant series or under {MIN_ROWS} days): {pairs}{more}")
    frame.attrs["notes"] = notes
    return frame


def matrix_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    if frame.empty:
        return empty_figure("No news days in this window")
    shown = frame.assign(corr=frame["corr"].where(frame["n"] >= MIN_ROWS))
    fig = base_figure(margin={"l": 130, "r": 8, "t": 8, "b": 90}, hovermode="closest")
    if params["by"] == "pooled":
        names = [v for v in LABELS if v in set(shown["x"]) | set(shown["y"])]
        z = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        n = pd.DataFrame(0, index=names, columns=names)
        for row in shown.itertuples():
            z.loc[row.x, row.y] = z.loc[row.y, row.x] = row.corr
            n.loc[row.x, row.y] = n.loc[row.y, row.x] = row.n
        x = y = [LABELS[v] for v in names]
        values, counts = z.to_numpy(dtype=float), n.to_numpy()
    else:
        shown = shown.assign(pair=[f"{LABELS[a]} × {LABELS[b]}" for a, b in zip(shown["x"], shown["y"], strict=True)])
        wide = shown.pivot(index="symbol", columns="pair", values="corr")
        x, y, values = list(wide.columns), list(wide.index), wide.to_numpy(dtype=float)
        counts = shown.pivot(index="symbol", columns="pair", values="n").reindex_like(wide).to_numpy()
    text = [["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in values]
    fig.add_trace(
        go.Heatmap(
            x=x,
            y=y,
            z=values,
            text=text,
            texttemplate="%{text}",
            customdata=counts,
            zmin=-1,
            zmax=1,
            colorscale=SCALE,
            xgap=1,
            ygap=1,
            colorbar={"title": {"text": params["method"]}},
            hovertemplate="%{y} · %{x}<br>%{z:.3f} over %{customdata} days<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def lead_lag_data(db: Database, params: dict) -> pd.DataFrame:
    frame = db.run("correlation_lead_lag", **_window(params), method=params["method"])
    thin = frame[frame["n"] < MIN_ROWS]["lag"].tolist()
    notes = ["lag > 0: sentiment leads the return by that many trading days", *market_gaps(db, params)]
    if thin:
        notes.append(f"too few trading days for lags {', '.join(map(str, thin))}: pick a longer range")
    frame.attrs["notes"] = notes
    return frame


def lead_lag_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    usable = frame[(frame["n"] >= MIN_ROWS) & frame["corr"].notna()]
    if usable.empty:
        return empty_figure("No trading days with news and market data in this window")
    fig = base_figure(
        xaxis={"title": {"text": "lag (trading days; > 0: sentiment first)"}, "dtick": 1},
        yaxis={"title": {"text": f"{params['method']} correlation"}, "range": [-1, 1]},
        hovermode="closest",
    )
    fig.add_trace(
        go.Bar(
            x=usable["lag"],
            y=usable["corr"],
            customdata=usable["n"],
            marker_color=np.where(usable["lag"] > 0, "#2166ac", "#9aa0a6"),
            hovertemplate="lag %{x}: %{y:.3f} over %{customdata} pairs<extra></extra>",
        )
    )
    return fig


def rolling_data(db: Database, params: dict) -> pd.DataFrame:
    window = int(params["rolling"])
    frame = db.run("correlation_rolling", **_window(params), window=window)
    short = sorted(set(frame["symbol"]) - set(frame.dropna(subset=["corr"])["symbol"]))
    notes = [f"Pearson over {window} trading days", *market_gaps(db, params)]
    if short:
        notes.append(f"fewer than {window} trading days with news for {', '.join(short)}")
    frame.attrs["notes"] = notes
    return frame


def rolling_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    filled = frame.dropna(subset=["corr"])
    if filled.empty:
        return empty_figure(f"No symbol has {params['rolling']} trading days with news and returns in this window")
    fig = base_figure(yaxis={"title": {"text": "correlation"}, "range": [-1, 1]})
    colors = color_map(filled["symbol"])
    for symbol, part in filled.groupby("symbol"):
        fig.add_trace(
            curve(
                x=part["day"],
                y=part["corr"],
                name=symbol,
                mode="lines",
                line={"color": colors[symbol]},
                hovertemplate="%{y:.3f}",
            )
        )
    return fig


def symbols_data(db: Database, params: dict) -> pd.DataFrame:
    frame = db.run("correlation_symbols", **_window(params), method=params["method"])
    frame.attrs["notes"] = [f"{params['method']} correlation of daily mean sentiment, over the days both had news"]
    return frame


def symbols_figure(frame: pd.DataFrame, params: dict) -> go.Figure:
    usable = frame[frame["n"] >= MIN_ROWS]
    if usable.empty:
        return empty_figure("No two symbols with common news days in this window")
    names = sorted(set(usable["a"]) | set(usable["b"]))
    z = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for row in usable.itertuples():
        z.loc[row.a, row.b] = z.loc[row.b, row.a] = row.corr
    values = z.to_numpy(dtype=float)
    fig = base_figure(margin={"l": 60, "r": 8, "t": 8, "b": 40}, hovermode="closest")
    fig.add_trace(
        go.Heatmap(
            x=names,
            y=names,
            z=values,
            zmin=-1,
            zmax=1,
            colorscale=SCALE,
            xgap=1,
            ygap=1,
            text=[["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in values],
            texttemplate="%{text}",
            hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


PAGE = "/correlation"

register(
    ChartSpec(
        id="correlation.matrix",
        title="Sentiment, returns and the agent",
        page=PAGE,
        params=(*FILTERS, METHOD, BY, RUN),
        data=matrix_data,
        figure=matrix_figure,
        tables=TABLES,
        height=460,
        description="Correlation of the daily grid per symbol: mean sentiment, news items, same- and next-day return,"
        " the agent's net action (buys minus sells).",
    )
)
register(
    ChartSpec(
        id="correlation.lead_lag",
        title="Lead and lag",
        page=PAGE,
        params=(*FILTERS, METHOD),
        data=lead_lag_data,
        figure=lead_lag_figure,
        tables=TABLES,
        height=340,
        description="Sentiment against the return a number of trading days later (or earlier), pooled over symbols.",
    )
)
register(
    ChartSpec(
        id="correlation.rolling",
        title="Rolling correlation with the next day's return",
        page=PAGE,
        params=(*FILTERS, ROLLING),
        data=rolling_data,
        figure=rolling_figure,
        tables=TABLES,
        height=340,
        description="Per symbol; blank until a window is full.",
        time_axis="day",  # the page's one chart over time: alert bands
    )
)
register(
    ChartSpec(
        id="correlation.symbols",
        title="Sentiment across symbols",
        page=PAGE,
        params=(*FILTERS, METHOD),
        data=symbols_data,
        figure=symbols_figure,
        tables=TABLES,
        height=380,
        description="Do symbols' daily sentiment move together?",
    )
)
