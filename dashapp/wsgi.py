"""The gunicorn target: `gunicorn dashapp.wsgi:server` (see dashapp/gunicorn_conf.py). Each worker imports it after the
fork, builds the app and opens its DuckDB before it takes a request."""

from . import create_app

server = create_app().server
server.extensions["dashapp"].db.prepare()
