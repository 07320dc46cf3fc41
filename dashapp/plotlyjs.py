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

from dash import dcc

VERSION = "4.1.1"
# Inside the package: Dash's component-suite route reads it with pkgutil.get_data("dashapp", FILE).
FILE = f"static/vendor/plotly-strict-{VERSION}.min.js"
PATH = Path(__file__).parent / FILE
# No "async": a plain <script> in Dash's index, run before the inline one that starts the renderer, so
# window.Plotly is there before any dcc.Graph asks. Dash loads its own plotly.js lazily from a URL that
# dash-renderer fixes to the plotly package (_dash-component-suites/plotly/package_data/plotly.min.js), whatever
# the entry's path says; dcc.Graph skips that load when window.Plotly is set.
DASH_ENTRY = {"relative_package_path": FILE, "namespace": "dashapp"}


def serve_in_dash() -> None:
    """Make the Dash pages load the strict build instead of the plotly package's plotly.min.js.

    dash.Dash() adds its plotly.js entry to dcc's module-wide script list each time an app is built; that entry
    is taken out (its file is no longer servable at all, so a page that still asked for it would fail loudly)
    and ours put in once.
    """
    dcc._js_dist[:] = [entry for entry in dcc._js_dist if entry.get("namespace") != "plotly"]
    if DASH_ENTRY not in dcc._js_dist:
        dcc._js_dist.append(DASH_ENTRY)
