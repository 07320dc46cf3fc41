"""dashapp as served, but /api/charts fails with an unexpected error: the real server's 500 (catalogue 13)."""

from dashapp import create_app

SECRET = "detail-that-must-stay-in-the-log"


def _fail():
    raise RuntimeError(f"forced failure with a {SECRET}")


server = create_app().server
server.view_functions["api.list_charts"] = _fail  # the route stays; only what it runs changes
