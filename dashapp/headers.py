"""Security headers on every response: who may frame the portal, no MIME sniffing, no referrer abroad.

No script-src policy: Dash's index page runs inline scripts (its config and renderer start-up).
"""

from __future__ import annotations

from flask import Flask, Response

from .config import Config

# same-origin: a link or request to another site carries no Referer, so an embed URL's token never leaks.
REFERRER_POLICY = "same-origin"


def init_headers(server: Flask, config: Config) -> None:
    """Add the headers after every request, errors and static files included."""
    policy = f"frame-ancestors {config.frame_ancestors}; base-uri 'self'; object-src 'none'"

    @server.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = REFERRER_POLICY
        return response
