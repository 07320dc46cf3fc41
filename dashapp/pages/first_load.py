"""What the browser is loading, read when Dash asks for its layout, so the first paint needs no round trip.

Dash's index page asks for the layout (`_dash-layout`) once its scripts run, from the page itself: the
request's Referer is the page's URL (the portal's Referrer-Policy is same-origin, and auth.py reads it the
same way). The shell lays out that page with its controls already set from the URL's query string, so the
panels' callbacks fire in the first round instead of after a router callback and a filter sync. Without a
Referer (a browser told never to send one) the layout is the bare shell and the router fills it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import current_app, has_request_context, request

from ..subpath import portal_path
from . import Page, page_for


@dataclass(frozen=True)
class Requested:
    """The page's URL as the browser has it: `pathname` None when unknown; `search` "" or "?..."."""

    pathname: str | None = None
    search: str = ""
    href: str | None = None

    def location(self) -> dict:
        """dcc.Location's properties: equal to the browser's, so it sets none of them again on mount (which
        would fire the URL's callbacks a second time)."""
        if self.pathname is None:
            return {}
        return {"pathname": self.pathname, "search": self.search, "href": self.href, "hash": ""}

    def page(self, prefix: str) -> Page | None:
        return page_for(unquote(self.pathname), prefix) if self.pathname is not None else None

    def known_path(self, prefix: str) -> bool:
        """True when the URL is under the portal's prefix (a page or a path that is no page)."""
        return self.pathname is not None and portal_path(prefix, unquote(self.pathname)) is not None


def requested() -> Requested:
    """The URL of the page asking for the layout, from this request's Referer; nothing outside a request."""
    if not has_request_context() or not request.referrer:
        return Requested()
    referrer = urlsplit(request.referrer)
    if not referrer.path.startswith("/"):
        return Requested()
    search = f"?{referrer.query}" if referrer.query else ""
    return Requested(referrer.path, search, referrer._replace(fragment="").geturl())


def database():
    """The app's Database while serving a request, else None (a layout built in a test, outside the app)."""
    state = current_app.extensions.get("dashapp") if has_request_context() else None
    return state.db if state is not None else None
