"""The chart registry: each chart declared once, with its parameters, data and figure.

Pages, the JSON/CSV API and the tests all go through `render(spec, args, db)`, so a chart exists
in exactly one place and parses its parameters the same way everywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from ..alerts.rules import RulesError, configured_rules
from ..alerts.store import as_of, open_store
from ..backtest.runs import known_runs
from ..contract import TABLES
from ..db import Database
from ..errors import BadParameter, DataUnavailable, UnknownChart
from ..sqlfiles import load_query
from ..subpath import ROOT, url
from ..timerange import (
    BUCKETS,
    MAX_POINTS,
    MAX_RANGE,
    align_up,
    auto_bucket,
    bucket_points,
    parse_instant,
    utc_now,
)
from .bands import Scope, add_bands
from .rollouts import MARKER_TABLES, add_markers

_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")
MAX_VALUES = 50
# Query-string names that belong to the API, the embed page or every page, not to a chart (width ... image_scale:
# images; refresh: auto-refresh, which a copied page link carries along).
RESERVED = frozenset({"format", "theme", "title", "token", "width", "height", "image_scale", "refresh"})


@dataclass(frozen=True)
class Param:
    """One URL parameter of a chart: `kind` is time, bucket, text, choice or date.

    `known` names the identifiers a text value must be one of (a key of KNOWN): symbol, model_version, run.
    """

    name: str
    kind: str
    default: object = None
    multiple: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    known: str = ""

    def describe(self) -> dict:
        out = {"name": self.name, "type": self.kind, "default": self.default, "repeatable": self.multiple}
        if self.choices:
            out |= {"choices": list(self.choices)}
        return out | {"help": self.help}


START = Param("start", "time", "now-7d", help="window start: ISO date/datetime (UTC) or now-7d, now-12h ...")
END = Param("end", "time", "now", help="window end (exclusive)")
BUCKET = Param("bucket", "bucket", "auto", help="time bucket: auto or one of " + ", ".join(BUCKETS))
SYMBOL = Param("symbol", "text", [], multiple=True, help="ticker; repeat for several; none = all", known="symbol")
MODEL_VERSION = Param("model_version", "text", None, help="one model version; none = all", known="model_version")
WINDOW = (START, END)
FILTERS = (START, END, SYMBOL, MODEL_VERSION)
# Every chart with a time axis takes it (register() adds it), so a URL or an embed can choose the bands.
# "show" is the earlier spelling of "all", kept so that links made before still open.
ALERTS = Param(
    "alerts",
    "choice",
    "relevant",
    choices=("relevant", "all", "hide", "show"),
    help="shade when alert rules fired: the rules about this chart (relevant), all or hide",
)
# Every chart that draws rollout markers takes it (register() adds it): a URL or an embed can leave them out.
MARKERS = Param(
    "markers",
    "choice",
    "show",
    choices=("show", "hide"),
    help="mark when model versions first served and training runs ended (agent versions on Backtests), or hide",
)
# Auto-refresh, as Grafana's refresh=: a page redraws a chart when its data version changes (pages/refresh.py).
REFRESH_SECONDS = {"off": None, "5s": 5, "30s": 30, "1m": 60, "5m": 300}
REFRESH = Param("refresh", "choice", "off", choices=tuple(REFRESH_SECONDS), help="auto-refresh interval of a page")


@dataclass(frozen=True)
class ChartSpec:
    """A chart: id `area.name`, its parameters, a data function and a pure figure builder."""

    id: str
    title: str
    page: str
    params: tuple[Param, ...]
    data: Callable[[Database, dict], pd.DataFrame]
    figure: Callable[[pd.DataFrame, dict], go.Figure]
    tables: tuple[str, ...]
    description: str = ""
    height: int = 340
    # The data's time column when the x axis is time: render() shades the periods when alert rules
    # fired over the chart's window (or, without one, this column's span). None: tables, heatmaps, bins.
    time_axis: str | None = None
    # The parts of the alert store's document its data reads (alerts/store.py): its cache entry and its
    # auto-refresh version follow their content, since the scheduler, not the tables, moves them.
    store_parts: tuple[str, ...] = ()
    # Metric areas (drift, agent ...) whose alert bands it shows besides the rules about its tables and labels.
    alert_areas: tuple[str, ...] = ()
    # The data's column of links to portal pages ("/drift?..."), which its figure shows. They are cached as portal
    # paths, so that servers under other URL prefixes share the entry; render() puts them under this one's.
    links: str | None = None
    # The rollout markers its time axis shows (rollouts.py): "models" (model versions' first predictions, training
    # runs' ends) or "agents" (agent versions' first paper-trading days); None: no markers.
    markers: str | None = None
    # Its figure is a table (figures.table_figure): the pages show it as a sortable, filterable grid
    # (pages/grids.py) built from that figure; embeds and the API keep the plotly table.
    table: bool = False

    def describe(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "page": self.page,
            "description": self.description,
            "tables": list(self.tables),
            "params": [p.describe() for p in self.params],
        }


@dataclass
class Rendered:
    spec: ChartSpec
    params: dict
    data: pd.DataFrame
    figure: dict  # plotly's JSON form: {"data": [...], "layout": {...}}
    coverage: str
    notes: list[str] = field(default_factory=list)


REGISTRY: dict[str, ChartSpec] = {}


def register(spec: ChartSpec) -> ChartSpec:
    if spec.id in REGISTRY:
        raise ValueError(f"chart {spec.id} is registered twice")
    if spec.time_axis:
        spec = replace(spec, params=(*spec.params, ALERTS))
    if spec.markers:
        spec = replace(spec, params=(*spec.params, MARKERS))
    REGISTRY[spec.id] = spec
    return spec


def get_chart(chart_id: str) -> ChartSpec:
    try:
        return REGISTRY[chart_id]
    except KeyError:
        raise UnknownChart(chart_id) from None


def from_query(name: str) -> Callable[[Database, dict], pd.DataFrame]:
    """Make a data function that runs one SQL file with the chart params it binds."""
    query = load_query(name)

    def data(db: Database, params: dict) -> pd.DataFrame:
        return db.run(name, **{k: v for k, v in params.items() if k in query.caller_params})

    data.__doc__ = f"Run queries/{name}.sql."
    return data


# -- parameters -------------------------------------------------------------------------------


def _show(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def _parse_scalar(param: Param, raw: str):
    if param.kind == "choice":
        if raw not in param.choices:
            raise BadParameter(param.name, f"must be one of {', '.join(param.choices)}, got {_show(raw)}")
        return raw
    if param.kind == "text":
        if not _TEXT.match(raw):
            raise BadParameter(param.name, f"must be letters, digits and . _ : + - (at most 64), got {_show(raw)}")
        return raw
    if param.kind == "date":
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError
            return date.fromisoformat(raw)
        except ValueError:
            raise BadParameter(param.name, f"must be a date YYYY-MM-DD, got {_show(raw)}") from None
    return raw


def parse_params(
    spec: ChartSpec, args: Mapping[str, Sequence[str]], strict: bool = False, now: datetime | None = None
) -> tuple[dict, list[str]]:
    """Parse query-string values into the bound parameters of a chart, plus notices for the panel.

    Times come back as naive UTC datetimes and `bucket` as seconds. With `strict` (the API), an
    unknown parameter is an error; a page passes its global filters to every chart and does not.
    """
    known = {p.name: p for p in spec.params}
    if strict:
        for name in args:
            if name not in known and name not in RESERVED:
                raise BadParameter(name, f"is not a parameter of {spec.id} (accepted: {', '.join(known)})")
    values: dict = {}
    for param in spec.params:
        raw = [v for v in args.get(param.name, ()) if v != ""]
        if not raw:
            values[param.name] = param.default
        elif param.multiple:
            if len(raw) > MAX_VALUES:
                raise BadParameter(param.name, f"takes at most {MAX_VALUES} values, got {len(raw)}")
            values[param.name] = sorted(set(_parse_scalar(param, v) for v in raw))
        elif len(raw) > 1:
            raise BadParameter(param.name, "may be given once")
        else:
            values[param.name] = _parse_scalar(param, raw[0])
    notes: list[str] = []
    if "start" in known:
        _resolve_window(values, now or utc_now(), notes)
    return values, notes


def refresh_seconds(args: Mapping[str, Sequence[str]]) -> int | None:
    """The refresh= interval in seconds, None when off; a value not offered is a BadParameter naming refresh."""
    raw = [v for v in args.get(REFRESH.name, ()) if v != ""]
    if len(raw) > 1:
        raise BadParameter(REFRESH.name, "may be given once")
    return REFRESH_SECONDS[_parse_scalar(REFRESH, raw[0])] if raw else None


def _filter_options(kind: str) -> Callable[[Database], set[str]]:
    def values(db: Database) -> set[str]:
        frame = db.run("meta_filter_options")
        return set(frame.loc[frame["kind"] == kind, "value"])

    return values


# The identifiers in the data, each from a small cached query: symbols and model versions logged, runs.
KNOWN: dict[str, Callable[[Database], set[str]]] = {
    "symbol": _filter_options("symbol"),
    "model_version": _filter_options("model_version"),
    "run": lambda db: set(known_runs(db)["run_id"]),
}
# The tables each KNOWN list is read from (meta_filter_options.sql, backtest_runs.sql), for chart_version().
KNOWN_TABLES = {
    "symbol": load_query("meta_filter_options").tables,
    "model_version": load_query("meta_filter_options").tables,
    "run": load_query("backtest_runs").tables,
}


def check_known(spec: ChartSpec, params: dict, db: Database) -> None:
    """An identifier the data does not have is a BadParameter naming it, before any chart query runs.

    When the table that lists them is unavailable nothing is checked: the chart itself says so.
    """
    for param in spec.params:
        given = params.get(param.name)
        if not param.known or not given:
            continue
        try:
            known = KNOWN[param.known](db)
        except DataUnavailable:
            continue
        unknown = [v for v in (given if param.multiple else [given]) if v not in known]
        if unknown:
            label = param.known.replace("_", " ")
            raise BadParameter(param.name, f"names no known {label}: {', '.join(unknown[:5])}")


def _resolve_window(values: dict, now: datetime, notes: list[str]) -> None:
    """Turn start/end strings into datetimes and the bucket name into seconds."""
    relative = {name: str(values[name]).startswith("now") for name in ("start", "end")}
    for name in ("start", "end"):
        try:
            values[name] = parse_instant(str(values[name]), now)
        except ValueError:
            raise BadParameter(
                name, f"must be an ISO date or datetime, or now-<n><m|h|d|w>, got {_show(str(values[name]))}"
            ) from None
    if relative["end"] and values["start"] < values["end"]:
        # A window ending "now" ends at the next bucket boundary instead: it still holds every row
        # (none lie in the future), its buckets are whole, and its cache entries live a bucket long
        # rather than a minute.
        step = BUCKETS[auto_bucket(values["start"], values["end"])]
        shift = align_up(values["end"], step) - values["end"]
        values["end"] += shift
        values["start"] += shift if relative["start"] else timedelta(0)
    start, end = values["start"], values["end"]
    if start >= end:
        raise BadParameter("start", f"must be before end ({start:%Y-%m-%d %H:%M} >= {end:%Y-%m-%d %H:%M})")
    if end - start > MAX_RANGE:
        raise BadParameter("start", f"the window may span at most {MAX_RANGE.days} days")
    if "bucket" not in values:
        return
    bucket = values["bucket"]
    if bucket == "auto":
        bucket = auto_bucket(start, end)
    elif bucket not in BUCKETS:
        raise BadParameter("bucket", f"must be auto or one of {', '.join(BUCKETS)}, got {_show(str(bucket))}")
    elif bucket_points(start, end, bucket) > MAX_POINTS:
        finest = auto_bucket(start, end)
        raise BadParameter(
            "bucket", f"{bucket} gives more than {MAX_POINTS} points here; the finest allowed is {finest}"
        )
    values["bucket"] = BUCKETS[bucket]
    notes.append(f"{bucket} buckets")


# -- rendering --------------------------------------------------------------------------------


def coverage_text(db: Database, spec: ChartSpec, params: dict) -> str:
    """Say what data a panel covers: its window and how fresh each source table is."""
    parts = []
    if "start" in params:
        parts.append(f"{params['start']:%Y-%m-%d %H:%M} → {params['end']:%Y-%m-%d %H:%M} UTC")
    if "from" in params:  # a period of days, both included (backtests)
        parts.append(f"{params['from'] or 'first day'} → {params['to'] or 'last day'}")
    for table in spec.tables:
        if TABLES[table].time_column is None:  # a table without time (reference): present or not
            parts.append(f"{table} table" if db.sources([table])[table] else f"{table} unavailable")
            continue
        try:
            last = db.data_through(table)
        except DataUnavailable:
            parts.append(f"{table} unavailable")
            continue
        parts.append(f"{table} is empty" if last is None else f"{table} data through {last:%Y-%m-%d %H:%M} UTC")
    return " · ".join(parts)


def render(spec: ChartSpec, args: Mapping[str, Sequence[str]], db: Database, strict: bool = False) -> Rendered:
    """Parse a chart's parameters, then load its data and figure, cached together per data fingerprint.

    Plotly builds a figure in 10-40 ms, more than reading a cached one, so the figure is cached
    as the plain dict that Dash and the API send; `spec.tables` must name every table the data
    function reads (tests/charts check it), or a change to another table would not refresh it.
    A chart with a time axis then gets the alert bands (bands.py) on a copy of that figure.
    """
    params, notes = parse_params(spec, args, strict=strict)
    check_known(spec, params, db)
    bands = params.pop(ALERTS.name, "hide")  # not the chart's: its cached figure is the same either way
    marks = params.pop(MARKERS.name, "hide")  # neither are the markers
    snapshot = open_store(db.config).load() if spec.store_parts or bands != "hide" else None
    key = {**params, "store": snapshot.version(*spec.store_parts)} if spec.store_parts else params
    frame, figure = db.memoize(f"chart.{spec.id}", key, spec.tables, lambda: _draw(spec, db, params))
    notes += frame.attrs.get("notes", ())
    if spec.links and db.config.url_prefix != ROOT and not frame.empty:
        frame = frame.assign(**{spec.links: [url(db.config.url_prefix, link) for link in frame[spec.links]]})
        figure = _figure(spec, frame, params)  # drawn again from the links this server gives
    if bands != "hide":
        scope = None if bands in ("all", "show") else _scope(spec, frame)
        figure, more = add_bands(snapshot, db.config, spec.time_axis, params, frame, figure, scope)
        notes += more
    if marks != "hide" and spec.markers:
        figure, more = add_markers(db, spec.markers, spec.time_axis, params, frame, figure)
        notes += more
    if snapshot is not None:
        notes.append(as_of(snapshot))
    notes += db.skipped_notes(spec.tables)
    coverage = coverage_text(db, spec, params)
    return Rendered(spec, params, frame, figure, coverage, notes)


def _scope(spec: ChartSpec, frame: pd.DataFrame) -> Scope:
    return Scope(spec.page, spec.tables, frozenset(map(str, frame.columns)), spec.alert_areas)


def chart_version(spec: ChartSpec, args: Mapping[str, Sequence[str]], db: Database) -> str:
    """A short hash of everything render() draws a chart from: equal versions draw the same chart.

    That is the chart's parameters as parsed (a relative window moves when its bucket-aligned end does),
    the files of each table it reads (its own, and the lists its identifiers are checked against), and
    the alert store's parts it shows (its own, or the firing periods when it shows bands) with the rules
    file. Skipped files count too: its notes name them. Only lists files (cached per file version) and
    reads the store's document, never queries: auto-refresh asks it of every panel each tick.
    """
    params, _ = parse_params(spec, args)
    named = [p.known for p in spec.params if p.known and params.get(p.name)]
    tables = set(spec.tables) | {t for known in named for t in KNOWN_TABLES[known]}
    if spec.markers and params.get(MARKERS.name) != "hide":
        tables |= set(MARKER_TABLES[spec.markers])
    parts = spec.store_parts + (("periods",) if params.get(ALERTS.name, "hide") != "hide" else ())
    store = open_store(db.config).load().version(*parts) if parts else ""
    try:
        rule_text = [repr(rule) for rule in configured_rules(db.config)] if parts else []
    except RulesError as exc:  # edited into a bad state: the panel fails saying so, and fixing it redraws
        rule_text = [str(exc)]
    files = {t: (s.fingerprint, s.skipped) if s else None for t, s in db.scan(sorted(tables)).items()}
    payload = json.dumps([spec.id, params, files, store, rule_text], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _draw(spec: ChartSpec, db: Database, params: dict) -> tuple[pd.DataFrame, dict]:
    frame = spec.data(db, params)
    return frame, _figure(spec, frame, params)


def _figure(spec: ChartSpec, frame: pd.DataFrame, params: dict) -> dict:
    figure = spec.figure(frame, params)
    figure.update_layout(height=spec.height)
    return figure.to_plotly_json()
