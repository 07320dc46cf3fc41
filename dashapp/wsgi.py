"""The gunicorn target: `gunicorn dashapp.wsgi:server` (see gunicorn.conf.py)."""

from . import create_app

server = create_app().server
