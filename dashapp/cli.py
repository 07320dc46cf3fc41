"""The `dashapp` command: demo logs, data checks, drift, backtests, alerts, cache warming, serving, MLflow import."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from .storage import data_location

# The package's own gunicorn settings, imported as a module: an installed dashapp has no repository around it.
GUNICORN_CONFIG = "python:dashapp.gunicorn_conf"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import write_demo

    started = time.perf_counter()
    counts = write_demo(
        args.out, rows=args.rows, days=args.days, seed=args.seed, progress=print, incidents=args.incidents
    )
    for table, rows in counts.items():
        print(f"{table:18} {rows:>12,} rows")
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .check import PASSING, check_data_dir, format_report
    from .storage import StorageUnreachable, location_problem, open_storage

    problem = location_problem(args.data)
    if problem:
        print(f"dashapp check: --data {problem}", file=sys.stderr)
        return 2
    try:
        reports = check_data_dir(args.data)
    except StorageUnreachable as exc:
        print(f"dashapp check: {exc}", file=sys.stderr)
        return 2
    print(format_report(reports))
    if all(r.status in ("missing", "absent") for r in reports):  # a wrong path or prefix, most likely
        print(f"no contract table at {open_storage(args.data).root}/ (is the data folder or prefix right?)")
    return 0 if all(r.status in PASSING for r in reports) else 1


def cmd_drift(args: argparse.Namespace) -> int:
    """Print each input feature's drift for [start, end) against the baseline, as a table or JSON."""
    import json

    from .charts.drift import drift_results
    from .config import Config
    from .db import Database
    from .errors import DashappError

    query = {"start": [args.start], "end": [args.end], "reference": [args.reference]}
    try:
        results = drift_results(Database(Config.from_env(data_dir=args.data)), query)
    except DashappError as exc:
        print(f"dashapp drift: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'feature':20} {'kind':12} {'status':9} {'psi':>8}  decided by")
    for r in results:
        psi = "" if r["psi"] is None else f"{r['psi']:.4f}"
        print(f"{r['feature']:20} {r['kind']:12} {r['status']:9} {psi:>8}  {r['rule']}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Print a run's QuantStats metrics (252 periods a year, risk-free rate 0), as a table or JSON."""
    import json

    from .backtest.metrics import METRICS
    from .backtest.runs import run_metrics
    from .config import Config
    from .db import Database
    from .errors import DashappError

    try:
        (result,) = run_metrics(Database(Config.from_env(data_dir=args.data)), [args.run_id])
    except DashappError as exc:
        print(f"dashapp backtest: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["problem"] is None else 1
    print(
        f"{result['run_id']}: {result['agent']} {result['agent_version']} ({result['kind']}), "
        f"{result['first_day']} to {result['last_day']}, {result['days']} days"
    )
    for note in result["notes"]:
        print(f"  note: {note}")
    if result["problem"]:
        print(f"  no metrics: {result['problem']}")
        return 1
    for metric in METRICS:
        value = result[metric.key]
        shown = "—" if value is None else f"{value:.2%}" if metric.unit == "percent" else f"{value:,.4g}"
        print(f"  {metric.label:26} {shown:>12}")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """Print every rule's state from the alert store (--evaluate: evaluate first); exit 0 ok, 1 warning, 2 critical."""
    import json
    from datetime import timedelta

    from .alerts.evaluate import as_json, exit_code
    from .alerts.store import as_of, open_store
    from .runner import precise_now, tick, worker_database

    setup = _alerting(args, "alerts")
    if setup is None:
        return 2
    config, rules, at = setup
    if args.evaluate:  # for cron users who run no scheduler: the scheduler's own evaluation, once
        server, db = worker_database(config)
        with server.app_context():
            outcome = tick(db, rules, at or precise_now(), wait=EVALUATION_WAIT, warm=False)
        for problem in (*outcome.problems, *([] if outcome.evaluated else [f"not evaluated now: {outcome.reason}"])):
            print(f"dashapp alerts: {problem}", file=sys.stderr)
    snapshot = open_store(config).load()
    print(f"dashapp alerts: {as_of(snapshot)}", file=sys.stderr)
    if not snapshot.evaluated:
        return 1
    at = at or snapshot.evaluated_at
    alerts = snapshot.alerts(rules, at)
    if args.json:
        shown = [as_json(a, at, config.url_prefix) for a in alerts]
        since = (at - timedelta(days=args.days)).isoformat()
        for alert in shown:  # the firing periods of the --days before --at
            alert["periods"] = [p for p in alert["periods"] if p["end"] is None or p["end"] > since]
        print(json.dumps(shown, indent=2))
    else:
        print(f"{'rule':28} {'labels':36} {'state':10} {'severity':9} {'value':>10}  since")
        for alert in alerts:
            labels = ",".join(f"{k}={v}" for k, v in alert.labels.items())
            value = "" if alert.value is None else f"{alert.value:.4g}"
            since = f"{alert.since:%Y-%m-%d %H:%M}" if alert.since else ""
            print(f"{alert.rule.name:28} {labels:36} {alert.state:10} {alert.severity or '':9} {value:>10}  {since}")
            if alert.error:
                print(f"  {alert.error}")
    return exit_code(alerts)


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Evaluate the alert rules every DASHAPP_ALERT_INTERVAL seconds into the state store (--once: once)."""
    import logging
    import signal
    import threading

    from .alerts.store import as_of
    from .runner import precise_now, run_forever, tick, worker_database

    setup = _alerting(args, "scheduler")
    if setup is None:
        return 2
    config, rules, at = setup
    if (at or args.rebuild) and not args.once:
        print("dashapp scheduler: --at and --rebuild go with --once", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.once:
        server, db = worker_database(config)
        with server.app_context():
            outcome = tick(db, rules, at or precise_now(), rebuild=args.rebuild, wait=EVALUATION_WAIT)
        done = "evaluated" if outcome.evaluated else f"not evaluated ({outcome.reason})"
        print(f"dashapp scheduler: {done}; {as_of(outcome.snapshot)}")
        return 0 if outcome.evaluated or outcome.reason.startswith("already") else 1
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    run_forever(config, stop)
    return 0


def cmd_warm(args: argparse.Namespace) -> int:
    """Render every chart's default views into the configured cache, so the first visitor finds them."""
    from . import create_app
    from .config import Config
    from .errors import ConfigError
    from .warm import WarmResult, warm_default_views

    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"dashapp: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)

    def show(result: WarmResult) -> None:
        outcome = f"skipped: {result.skipped}" if result.skipped else f"{result.seconds:.2f} s"
        print(f"{result.chart_id:24} {result.view:>4}  {outcome}", flush=True)

    with app.server.app_context():
        results = warm_default_views(app.server.extensions["dashapp"].db, args.days, report=show)
    return 1 if args.strict and any(r.skipped for r in results) else 0


# How long a one-off evaluation waits for one that is under way (it then finds this interval done).
EVALUATION_WAIT = 120


def _config(args: argparse.Namespace):
    """The configuration from DASHAPP_* variables, with --data on top when the command takes it."""
    from .config import Config

    data = getattr(args, "data", None)
    return Config.from_env(**({"data_dir": data} if data else {}))


def _alerting(args: argparse.Namespace, command: str):
    """The configuration, the alert rules and --at (None: not given) for an alert command; None after saying what
    is wrong (a bad setting, rules file or time)."""
    from .alerts.rules import RulesError, configured_rules
    from .errors import DashappError
    from .runner import precise_now
    from .timerange import parse_instant

    try:
        config = _config(args)
        return config, configured_rules(config), parse_instant(args.at, precise_now()) if args.at else None
    except (RulesError, DashappError, ValueError) as exc:
        print(f"dashapp {command}: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return None


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"must be name=value, got {text[:40]!r}")
    return name, value


def _expiry(text: str):
    from .auth import parse_expiry

    try:
        return parse_expiry(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_sign_url(args: argparse.Namespace) -> int:
    """Print a chart's embed URL (or API URL) with its parameters and a token signed with DASHAPP_EMBED_SECRET."""
    import json

    from .auth import Tokens, expires_at
    from .charts import get_chart, parse_params
    from .config import Config, env_name, portal_address
    from .errors import BadParameter, ConfigError, DashappError

    try:
        config = Config.from_env()
        if not config.embed_secret:
            raise ConfigError(f"{env_name('embed_secret')} is not set: there is no secret to sign with")
        if args.base is None and config.bind.startswith("unix:") and not config.public_url:
            raise ConfigError(f"{env_name('bind')} is a unix socket: give the portal's address with --base")
        try:
            base = portal_address(args.base, config.url_prefix) if args.base else config.portal_url
        except ValueError as exc:
            raise BadParameter("--base", str(exc)) from None
        spec = get_chart(args.chart_id)
        if any(name == "token" for name, _ in args.param):
            raise BadParameter("token", "is added by sign-url, not given")
        query: dict[str, list[str]] = {}
        for name, value in args.param:
            query.setdefault(name, []).append(value)
        parse_params(spec, query, strict=True)  # a link that would answer 400 is refused now
    except DashappError as exc:
        print(f"dashapp sign-url: {exc.message}", file=sys.stderr)
        return 2
    url = Tokens(config.embed_secret).url(base, spec.id, args.param, args.expires, args.api)
    if args.json:
        expires = expires_at(args.expires).isoformat().replace("+00:00", "Z")
        print(json.dumps({"url": url, "chart": spec.id, "params": args.param, "expires": expires}, indent=2))
    else:
        print(url)
    return 0


def cmd_import_mlflow(args: argparse.Namespace) -> int:
    """Copy an MLflow experiment's finished runs and metric histories into --out (MLflow is an optional extra)."""
    from .mlflow_import import ImportFailed, import_experiment, metric_keys

    try:
        summary = import_experiment(args.tracking_uri, args.experiment, args.out, metric_keys(args.metric))
    except ImportFailed as exc:
        print(f"dashapp import-mlflow: {exc.message}", file=sys.stderr)
        return 2
    print("\n".join(summary.lines()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the portal with gunicorn and, beside it, the alert scheduler; stop both together."""
    from .config import Config
    from .errors import ConfigError
    from .supervise import supervise

    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"dashapp: {exc}", file=sys.stderr)
        return 2
    # The gunicorn installed beside this dashapp (its virtualenv's), not whichever comes first on PATH.
    beside = Path(sys.executable).parent / "gunicorn"
    gunicorn = str(beside) if beside.exists() else shutil.which("gunicorn") or "gunicorn"
    # No control socket: nothing here drives gunicorn through it, and a home without one (a container's) fails it.
    web = [gunicorn, "--config", GUNICORN_CONFIG, "--no-control-socket"]
    if args.no_scheduler or config.celery_broker_url:  # with a broker, Celery beat and workers do its work
        os.execv(gunicorn, web)
    return supervise(web, [sys.executable, "-m", "dashapp.cli", "scheduler"])


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="dashapp", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write a seeded demo data set of all contract tables")
    demo.add_argument("--out", type=Path, default=Path("data/demo"), help="folder to write (default data/demo)")
    demo.add_argument("--rows", type=_positive, default=1_000_000, help="prediction rows (default 1,000,000)")
    demo.add_argument("--days", type=_positive, default=30, help="days of prediction logs, ending now (default 30)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument(
        "--incidents",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="put the incidents in (default); --no-incidents writes a clean data set on which no default rule fires",
    )
    demo.set_defaults(run=cmd_demo)

    check = sub.add_parser("check", help="validate a data folder against the data contract")
    check.add_argument("--data", type=data_location, required=True, help="the data folder or s3://bucket/prefix")
    check.set_defaults(run=cmd_check)

    drift = sub.add_parser("drift", help="print each input feature's drift for a window against a baseline")
    drift.add_argument("--data", type=data_location, required=True, help="the data folder or s3://bucket/prefix")
    drift.add_argument("--start", required=True, help="window start, inclusive: YYYY-MM-DD[THH:MM] (UTC) or now-7d")
    drift.add_argument("--end", default="now", help="window end, exclusive (default now)")
    drift.add_argument(
        "--reference", choices=("reference", "previous"), default="reference", help="baseline (default reference)"
    )
    drift.add_argument("--json", action="store_true", help="print a JSON list, one object per feature")
    drift.set_defaults(run=cmd_drift)

    backtest = sub.add_parser("backtest", help="print a backtest or paper run's QuantStats metrics")
    backtest.add_argument("--data", type=data_location, required=True, help="the data folder or s3://bucket/prefix")
    backtest.add_argument("--run", dest="run_id", required=True, help="the run_id")
    backtest.add_argument("--json", action="store_true", help="print one JSON object: the run, its metrics, notes")
    backtest.set_defaults(run=cmd_backtest)

    alerts = sub.add_parser(
        "alerts", help="print the alert states the scheduler stored; exit 0 ok, 1 warning, 2 critical"
    )
    alerts.add_argument("--data", type=data_location, help="the data folder or URL (default DASHAPP_DATA_DIR)")
    alerts.add_argument(
        "--at", help="states at this moment, from the history: ISO date/datetime (UTC) (default: the last evaluation)"
    )
    alerts.add_argument("--days", type=_positive, default=7, help="firing periods of the days before --at (default 7)")
    alerts.add_argument("--json", action="store_true", help="print a JSON list, one object per rule and series")
    alerts.add_argument(
        "--evaluate",
        action="store_true",
        help="evaluate first (as of --at, default now) and send notifications, for cron without a scheduler",
    )
    alerts.set_defaults(run=cmd_alerts)

    scheduler = sub.add_parser(
        "scheduler", help="evaluate the alert rules every DASHAPP_ALERT_INTERVAL seconds (foreground)"
    )
    scheduler.add_argument("--data", type=data_location, help="the data folder or URL (default DASHAPP_DATA_DIR)")
    scheduler.add_argument("--once", action="store_true", help="evaluate once, notify, and exit")
    scheduler.add_argument("--at", help="with --once: evaluate as of this moment (ISO, UTC) instead of now")
    scheduler.add_argument(
        "--rebuild", action="store_true", help="with --once: forget the states and evaluate the whole history again"
    )
    scheduler.set_defaults(run=cmd_scheduler)

    warm = sub.add_parser("warm", help="fill the cache with every chart's default views (for a cron job)")
    warm.add_argument(
        "--days",
        type=_positive,
        nargs="+",
        default=[7, 30],
        help="windows, in days (default 7 30); each chart's page default (7d) is always warmed",
    )
    warm.add_argument("--strict", action="store_true", help="exit 1 when a chart cannot be computed")
    warm.set_defaults(run=cmd_warm)

    sign = sub.add_parser("sign-url", help="print a chart's embed URL signed with DASHAPP_EMBED_SECRET")
    sign.add_argument("chart_id", help="the chart's id, as /api/charts lists it")
    sign.add_argument(
        "--param", type=_pair, action="append", default=[], help="name=value; repeat for each (theme and title too)"
    )
    sign.add_argument(
        "--expires", type=_expiry, default="7d", help="lifetime: 30m, 12h, 7d ... at most 365d (default 7d)"
    )
    sign.add_argument(
        "--base",
        help="the portal's address, e.g. https://portal.example.com; DASHAPP_URL_PREFIX is added"
        " (default DASHAPP_PUBLIC_URL, else http://DASHAPP_BIND)",
    )
    sign.add_argument("--api", action="store_true", help="sign the chart's API URL (/api/charts/<id>) instead")
    sign.add_argument("--json", action="store_true", help="print url, chart, params and expires as JSON")
    sign.set_defaults(run=cmd_sign_url)

    mlflow = sub.add_parser(
        "import-mlflow", help="copy an MLflow experiment's runs into training_runs and training_metrics parquet"
    )
    mlflow.add_argument("--tracking-uri", required=True, help="e.g. sqlite:///mlflow.db or http://mlflow:5000")
    mlflow.add_argument("--experiment", required=True, help="the experiment's name")
    mlflow.add_argument("--out", type=Path, required=True, help="the data folder to write the two tables into")
    mlflow.add_argument(
        "--metric",
        type=_pair,
        action="append",
        default=[],
        help="column=mlflow_key when a metric is logged under another name, e.g. accuracy=val_acc; repeat for each",
    )
    mlflow.set_defaults(run=cmd_import_mlflow)

    serve = sub.add_parser(
        "serve", help="serve the portal with gunicorn and run the alert scheduler beside it (DASHAPP_* configure both)"
    )
    serve.add_argument(
        "--no-scheduler", action="store_true", help="gunicorn only: the scheduler runs elsewhere (another host, Celery)"
    )
    serve.set_defaults(run=cmd_serve)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
