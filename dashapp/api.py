"""HTTP API: /healthz, /readyz, the chart registry at /api/charts, each chart's figure or data, /api/drift, /api/alerts,
tearsheets.

Errors share one JSON shape (datasette), made by errors.error_body:
{"ok": false, "error": ..., "param": ..., "status": ...}.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from dash.exceptions import DashException
from flask import Blueprint, Response, current_app, jsonify, request
from plotly.io.json import to_json_plotly
from werkzeug.exceptions import HTTPException, NotFound

from . import export, metricfiles
from .alerts.evaluate import as_json, worst
from .alerts.rules import configured_rules
from .alerts.store import as_of, open_store
from .breaker import breaker_of, degraded
from .cache import probe_cache
from .charts import REGISTRY, get_chart, render
from .charts.backtests import tearsheet
from .charts.drift import drift_results
from .charts.figures import svg_curves
from .charts.themes import for_export, theme_param, title_param
from .contract import TABLES
from .errors import BadParameter, error_body
from .sandbox import sandbox_problems
from .singleflight import lock_breaker, probe_locks
from .timerange import parse_instant, utc_now

log = logging.getLogger(__name__)
blueprint = Blueprint("api", __name__)
FORMATS = ("json", "csv", *export.FORMATS)
CALLBACK_PATH = "/_dash-update-component"
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, DashException)


def _db():
    return current_app.extensions["dashapp"].db


@blueprint.get("/healthz")
def healthz():
    """Liveness: the process answers. No data access, so it stays cheap."""
    return jsonify({"ok": True})


@blueprint.get("/readyz")
def readyz():
    """Readiness: DuckDB's sandbox reads back as configured and the data folder has a table to read; else 503.

    Per table: ok, partial (files skipped), missing, absent (optional) or unreadable, with file counts; no paths
    (it needs no login). `degraded` names what the portal serves without now and why (the results cache, the
    single-flight locks, the Prometheus files): still a 200, since every page is served, only slower or with
    late counts, and taking the portal out of a load balancer would serve nobody (Grafana's /api/health, likewise,
    fails on its database, never on its cache).
    """
    db = _db()
    try:
        duckdb_ok = not sandbox_problems(db.settings())
    except Exception:
        log.exception("readiness: DuckDB check failed")
        duckdb_ok = False
    folder = db.storage.state()  # ok, not there, not a folder, or unreachable (an object store)
    tables = {name: _table_state(name, source) for name, source in db.scan().items()} if folder == "ok" else {}
    ready = duckdb_ok and any(t["status"] in ("ok", "partial") for t in tables.values())
    if db.cache is not None and db.config.cache_type != "null":  # through the breakers: whichever worker
        probe_cache(db.cache)  # answers, it knows how the cache and the locks are now
        probe_locks(db.lock_folder)
    body = {"ok": ready, "duckdb": "ok" if duckdb_ok else "failed", "data_folder": folder, "tables": tables}
    body["degraded"] = degraded([breaker_of(db.cache), lock_breaker(db.lock_folder), *metricfiles.breakers()])
    try:  # reported, not required: the pages serve without fresh alert states, and say so
        body["alerts"] = evaluation(open_store(db.config).load())
    except Exception:
        log.exception("readiness: the alert store could not be read")
        body["alerts"] = {"note": "the alert store could not be read"}
    return jsonify(body), 200 if ready else 503


def _table_state(name: str, source) -> dict:
    if source is None:  # absent: an optional table this deployment does not have (as `dashapp check` says)
        return {"status": "absent" if TABLES[name].may_be_absent else "missing", "files": 0, "skipped": 0}
    status = "unreadable" if not source.files else "partial" if source.skipped else "ok"
    return {"status": status, "files": len(source.files), "skipped": len(source.skipped)}


@blueprint.get("/api/charts")
def list_charts():
    return jsonify({"ok": True, "charts": [spec.describe() for spec in REGISTRY.values()]})


@blueprint.get("/api/charts/<chart_id>")
def chart(chart_id: str):
    """Return one chart as its figure (format=json), the data behind it (format=csv) or an image (png, svg)."""
    spec = get_chart(chart_id)
    args = request.args.to_dict(flat=False)
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        raise BadParameter("format", f"must be one of {', '.join(FORMATS)}, got {fmt[:20]!r}")
    options = export.image_options(args, fmt, spec.height) if fmt in export.FORMATS else None
    # An image is drawn like the embed: in theme= (light by default), under title= (the chart's own by default).
    look = (theme_param(args), title_param(args, spec.title)) if options else None
    rendered = render(spec, args, _db(), strict=True)
    if options:
        figure = for_export(rendered.figure, *look)
        figure = svg_curves(figure) if fmt == "svg" else figure  # vectors, not a WebGL bitmap
        image = export.draw(figure, options, current_app.extensions["dashapp"].config.browser_path)
        return Response(image, mimetype=export.FORMATS[fmt])
    if fmt == "csv":
        return Response(
            rendered.data.to_csv(index=False),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{spec.id}.csv"'},
        )
    body = {
        "ok": True,
        "chart": spec.id,
        "coverage": rendered.coverage,
        "notes": rendered.notes,
        "figure": rendered.figure,
    }
    # Figures hold numpy arrays and timestamps, which plotly's encoder knows.
    return Response(to_json_plotly(body), mimetype="application/json")


@blueprint.get("/api/alerts")
def alerts():
    """Every rule's alerts as of `at` (default: the scheduler's last evaluation), with the firing periods of the
    `days` before it (default 7), read from the alert store."""
    db = _db()
    snapshot = open_store(db.config).load()
    days = _days(request.args.get("days", "7"))
    at = _instant(request.args["at"]) if request.args.get("at", "now") != "now" else None
    if not snapshot.evaluated:
        return jsonify({"ok": False, "error": as_of(snapshot), "reason": "not evaluated", "status": 503}), 503
    at = min(at or snapshot.evaluated_at, snapshot.evaluated_at)
    found = snapshot.alerts(configured_rules(db.config), at)
    since = at - timedelta(days=days)
    shown = [as_json(a, at, db.config.url_prefix) for a in found]
    for alert in shown:
        alert["periods"] = [p for p in alert["periods"] if p["end"] is None or p["end"] > since.isoformat()]
    body = {"ok": True, "at": at.isoformat(), "worst": worst(found), "evaluation": evaluation(snapshot)}
    return jsonify(body | {"alerts": shown})


def evaluation(snapshot) -> dict:
    """The last evaluation: the instant it evaluated, when it finished and how long it took, and whether it is late."""
    late = snapshot.late_seconds()
    return {
        "evaluated_at": snapshot.evaluated_at.isoformat() if snapshot.evaluated else None,
        "finished": datetime.fromtimestamp(snapshot.finished, UTC).isoformat() if snapshot.finished else None,
        "duration_seconds": snapshot.duration,
        "late": late is not None,
        "note": as_of(snapshot),
    }


def _instant(raw: str) -> datetime:
    try:
        return parse_instant(raw, utc_now())
    except ValueError:
        raise BadParameter("at", f"must be an ISO date or datetime (UTC) or now, got {raw[:40]!r}") from None


def _days(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 90:
        raise BadParameter("days", f"must be a whole number of days from 1 to 90, got {raw[:20]!r}")
    return int(raw)


@blueprint.get("/api/drift")
def drift():
    """Per-feature drift of a window against a baseline: a JSON list, one object per input feature."""
    return jsonify(drift_results(_db(), request.args.to_dict(flat=False)))


@blueprint.get("/api/backtests/<run_id>/tearsheet.html")
def backtest_tearsheet(run_id: str):
    """QuantStats' HTML report for one run (from=, to= narrow the period), built offline and cached."""
    name, body = tearsheet(_db(), {**request.args.to_dict(flat=False), "run": [run_id]})
    return Response(body, mimetype="text/html", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blueprint.get("/api/", defaults={"rest": ""})
@blueprint.get("/api/<path:rest>")
def unknown_api(rest: str):
    raise NotFound(f"no API endpoint /api/{rest[:60]}")


@blueprint.app_errorhandler(Exception)
def error_response(exc: Exception):
    """Answer any error with its JSON body (errors.error_body): unexpected ones with an id, the traceback logged."""
    if request.path == CALLBACK_PATH and isinstance(exc, MALFORMED) and not isinstance(exc, HTTPException):
        # Anyone can POST here: Dash itself raises these for an unknown output or a body of the wrong shape.
        error_id = uuid.uuid4().hex[:12]
        log.warning("malformed callback request (error id %s): %r", error_id, exc)
        return jsonify({"ok": False, "error": f"malformed callback request (id {error_id})", "status": 400}), 400
    body = error_body(exc, request.path)
    return jsonify(body.as_json()), body.status
