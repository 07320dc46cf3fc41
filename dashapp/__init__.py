"""dashapp: an MLOps monitoring portal for a news-sentiment model and the RL agent it feeds."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import dash
import dash_bootstrap_components as dbc  # noqa: F401  (registers the component suite)

from . import deadline, subpath
from .config import Config
from .db import Database
from .resources import shipped_folder

ASSETS_DIR = shipped_folder("assets")


@dataclass(frozen=True)
class AppState:
    """What request handlers need, stored on the Flask server (server.extensions['dashapp'])."""

    config: Config
    db: Database


def create_app(config: Config | None = None, celery=None) -> dash.Dash:
    """Build the Dash app and its Flask server. Nothing here opens DuckDB: that happens per worker.

    `celery`: the Celery app that runs background callbacks when a broker is configured (the worker passes its
    own, dashapp.celery_app.app; by default one is made from the config).
    """
    from . import api, embed
    from .alerts.rules import configured_rules
    from .auth import init_auth
    from .background import background_manager, close_job_store
    from .cache import cache, init_cache
    from .headers import init_headers
    from .pages import backtests, panels, shell, titles
    from .plotlyjs import serve_in_dash
    from .prometheus import init_metrics

    config = config or Config.from_env()
    configured_rules(config)  # a malformed rules file stops the start here, naming the rule and the field
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = dash.Dash(
        __name__,
        title="dashapp",
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,
        update_title=None,
        suppress_callback_exceptions=True,  # page layouts are swapped in by the router
        background_callback_manager=background_manager(config, celery),
        # Under DASHAPP_URL_PREFIX the browser asks for /monitoring/_dash-...; the routes see /_dash-... once
        # subpath.mount has moved the prefix into SCRIPT_NAME.
        routes_pathname_prefix=subpath.ROOT,
        requests_pathname_prefix=config.url_prefix,
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)  # screen readers pick a voice by it
    server = app.server
    server.wsgi_app = subpath.mount(server.wsgi_app, config.url_prefix)
    serve_in_dash(server, subpath.ROOT)  # plotly.js's strict build, whose WebGL traces need no 'unsafe-eval'
    server.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    init_cache(server, config)
    db = Database(config, cache=cache)

    @server.before_request
    def _begin_request() -> None:
        deadline.begin(config.query_timeout)
        db.begin_snapshot()

    @server.teardown_request
    def _end_request(_exc) -> None:
        deadline.end()
        db.end_snapshot()

    server.extensions["dashapp"] = AppState(config, db)
    server.register_blueprint(api.blueprint)
    server.register_blueprint(embed.blueprint)
    init_metrics(server, config)
    app.layout = partial(shell.layout, config.url_prefix)
    titles.init_index(app)  # each page's title in its index page; 404 for a path that is no page
    shell.register_callbacks(app, db)
    panels.register_callbacks(app, db)
    backtests.register_callbacks(app, db)
    init_headers(app, config)  # after the callbacks: it hashes their inline scripts
    # Dash records which component bundles it may serve only while rendering the index page, so a
    # gunicorn worker whose first request is a bundle would answer 500. Render it once per app.
    server.test_client().get(config.url_prefix)
    close_job_store(app._background_manager)  # the render above read the jobs' signing secret: nothing more to read
    init_auth(server, config)  # after the warm-up above: the index renders once without credentials
    return app
