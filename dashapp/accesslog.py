"""gunicorn's access log without embed tokens (gunicorn_conf's logger_class).

A signed link is as good as a password for its chart until it expires, and it reaches the log twice: in the
request line (the embed page, an API URL) and in the Referer of the files a signed embed page loads (auth.py
lets them through on it). Every value of a log line goes through `redact`, headers and environ included.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

# A token= value in a query string, plain or percent-encoded inside another URL (a Referer's, a next= parameter's).
_TOKEN = re.compile(r"((?:^|[?&;]|%26|%3F)token(?:=|%3D))[^&;#\s\"]+", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """The text with every token= value replaced."""
    return _TOKEN.sub(rf"\g<1>{REDACTED}", text)


class RedactingLogger(Logger):
    """gunicorn's logger, whose access-log atoms (request line, query, Referer, headers) carry no token."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) if isinstance(value, str) else value for name, value in atoms.items()}
