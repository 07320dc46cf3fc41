"""Security headers on every response: a Content-Security-Policy, no MIME sniffing, no referrer abroad.

Scripts come only from the portal itself, plus the inline scripts Dash's index runs, allowed one by
one by their hashes (`app.csp_hashes()`). Only the embed pages may be framed by the sites
DASHAPP_FRAME_ANCESTORS names; the portal's own pages only by the portal.
"""

from __future__ import annotations

import dash
from flask import Response, request

from .config import Config

# same-origin: a link or request to another site carries no Referer, so an embed URL's token never leaks.
REFERRER_POLICY = "same-origin"
EMBED_BLUEPRINT = "embed"


def content_security_policy(script_hashes: list[str], frame_ancestors: str) -> str:
    """The policy for a page whose inline scripts have these hashes, framed only by `frame_ancestors`."""
    directives = {
        "default-src": "'self'",
        # No 'unsafe-eval': the portal serves plotly.js's strict build (plotlyjs.py), whose WebGL traces (the
        # long curves' scattergl) need none; no blob: workers (map traces, which no chart draws). The browser
        # tests fail on any violation.
        "script-src": " ".join(["'self'", *script_hashes]),
        # plotly.js, dash-renderer and dcc add <style> elements of their own as they draw (measured in
        # Chromium): styles cannot be hashed ahead, and scripts stay locked.
        "style-src": "'self' 'unsafe-inline'",
        # data: for Bootstrap's check and radio icons and dcc's date picker; blob: for the modebar's PNG download.
        "img-src": "'self' data: blob:",
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors,
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def init_headers(app: dash.Dash, config: Config) -> None:
    """Add the headers after every request, errors and static files included.

    Call it after every callback is registered: a clientside callback adds an inline script to hash.
    """
    portal = content_security_policy(app.csp_hashes(), "'self'")
    embed = content_security_policy([], config.frame_ancestors)  # the embed page has no inline script

    @app.server.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = embed if request.blueprint == EMBED_BLUEPRINT else portal
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = REFERRER_POLICY
        return response
