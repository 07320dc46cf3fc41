"""Serving under a sub-path (DASHAPP_URL_PREFIX), as Grafana does with root_url and serve_from_sub_path.

The reverse proxy passes the whole path on (/monitoring/drift stays /monitoring/drift) and the portal
serves under its prefix itself: `mount` moves the prefix from each request's PATH_INFO to its
SCRIPT_NAME (PEP 3333), so the Flask routes stay written from "/", url_for writes the prefix into
every link it makes, and a path outside the prefix is a 404 before any route sees it. Dash writes the
prefix into the URLs the browser asks for (scripts, callbacks, assets) from requests_pathname_prefix;
the pages' own links go through `url`.
"""

from __future__ import annotations

import json

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

ROOT = "/"


def url(prefix: str, path: str) -> str:
    """A portal path ("/drift?start=now-7d") as the browser asks for it: under the prefix."""
    return prefix + path.removeprefix("/")


def portal_path(prefix: str, pathname) -> str | None:
    """The browser's path as a portal path ("/monitoring/drift" -> "/drift"); None outside the prefix.

    The pathname comes from the browser (a callback input): anything but a string is outside.
    """
    if not isinstance(pathname, str):
        return None
    if pathname + "/" == prefix:  # the prefix without its slash
        return ROOT
    return ROOT + pathname[len(prefix) :] if pathname.startswith(prefix) else None


def mount(app, prefix: str):
    """The WSGI app served under `prefix` only (itself when the prefix is /)."""
    if prefix == ROOT:
        return app
    root = prefix.rstrip("/")
    body = json.dumps({"ok": False, "error": f"not found: the portal is served under {prefix}", "status": 404})

    def mounted(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == root:  # one address per page: the portal's root is the prefix with its slash
            query = environ.get("QUERY_STRING", "")
            return redirect(prefix + (f"?{query}" if query else ""), code=308)(environ, start_response)
        if not path.startswith(prefix):
            response = Response(body, status=404, mimetype="application/json")
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response(environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + root
        environ["PATH_INFO"] = path[len(root) :]
        return app(environ, start_response)

    return mounted
