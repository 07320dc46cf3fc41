"""Which plotly.js the portal serves, to its Dash pages and to its embeds: plotly.js's strict build.

The strict build is plotly.js without `new Function`: its WebGL traces (scattergl, which long time series draw
with) compile their shaders without eval, so they draw under the portal's CSP, which has no 'unsafe-eval'
(headers.py). The default plotly.min.js in the plotly package would need it for them.

It is vendored in the package (static/vendor/, with its MIT licence) rather than fetched at setup: the wheel,
`make run` and the container then serve it with no npm and no network, and it changes only with a deliberate
commit. `make vendor-plotly` fetches it from the npm registry and checks its integrity hash. Its version is the
plotly.js the installed plotly writes figures for (plotly.offline.get_plotlyjs_version(); a test keeps them equal).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, send_file

VERSION = "4.1.1"
PATH = Path(__file__).parent / "static" / "vendor" / f"plotly-strict-{VERSION}.min.js"
# dcc.Graph loads plotly.js when the first graph mounts, from this URL, which dash-renderer fixes to the plotly
# package's file whatever Dash's script entry says: the strict build answers it. Loaded that way it downloads and
# compiles while the page's layout and first callbacks are under way; as a plain <script> in the index it held
# back the renderer's start by its compile (the layout was asked 4.2 s after navigation instead of 1.0 s,
# /operations in headless Chromium).
DASH_URL = "_dash-component-suites/plotly/package_data/plotly.min.js"


def serve_in_dash(server: Flask, root: str) -> None:
    """Answer the Dash pages' plotly.js request (root + DASH_URL) with the strict build.

    A route of its own: Flask matches it before Dash's component-suite route, whose converter is less specific.
    Not fingerprinted, so the browser revalidates it (ETag) on a new page load rather than keeping it a year.
    """
    server.add_url_rule(
        root + DASH_URL,
        endpoint="strict-plotly-js",
        view_func=lambda: send_file(PATH, mimetype="text/javascript", max_age=0, conditional=True, etag=True),
    )
