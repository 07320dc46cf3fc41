"""Errors that cross module boundaries, each with the HTTP status it maps to, and the one body they answer with.

`error_body` turns whatever a request raised into that body; the API sends it as JSON, the embed page as its
message in the frame and a panel as its empty state, so the three say the same thing with the same status.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DashappError(Exception):
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(DashappError):
    """A DASHAPP_* setting is wrong; start-up stops with this one line."""


class BadParameter(DashappError):
    status = 400

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param


class UnknownChart(DashappError):
    status = 404

    def __init__(self, chart_id: str):
        super().__init__(f"no chart named {chart_id!r}")
        self.chart_id = chart_id


class DataUnavailable(DashappError):
    """A table a panel needs is missing or unreadable: the panel shows an empty state, the API a 503."""

    status = 503

    def __init__(self, table: str, reason: str, expected: str = ""):
        super().__init__(f"{table}: {reason}")
        self.table = table
        self.reason = reason
        self.expected = expected


class ExportUnavailable(DashappError):
    """No browser to draw a PNG or SVG with (kaleido needs Chromium): the API answers 501."""

    status = 501


class ExportBusy(DashappError):
    """The image renderer did not answer in time (busy or hung): a 503, worth retrying."""

    status = 503


class QueryRefused(DashappError):
    """A query was stopped or not started to protect the server: too slow, too big, or too many at once.

    The panel shows the message as a warning (what to narrow); the API answers 503.
    """

    status = 503

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason  # deadline, memory or busy


@dataclass(frozen=True)
class ErrorBody:
    """An error as users are told it: its status and message, and what to change or what is missing."""

    status: int
    error: str
    param: str | None = None  # the parameter to change (400)
    table: str | None = None  # the table that is missing or unreadable (503), why, and the columns it needs
    table_reason: str = ""
    expected_columns: str = ""
    reason: str | None = None  # why a query was refused (deadline, memory or busy): worth trying again later
    error_id: str | None = None  # an unexpected error's id in the log, where its traceback is
    http_name: str | None = None  # the HTTP status's name, for an error the web framework raised (405 ...)

    def as_json(self) -> dict:
        body: dict = {"ok": False, "error": self.error, "status": self.status}
        if self.param is not None:
            body["param"] = self.param
        if self.table is not None:
            body |= {"table": self.table, "expected_columns": self.expected_columns}
        if self.reason is not None:
            body["reason"] = self.reason
        return body


def error_body(exc: BaseException, where: str) -> ErrorBody:
    """The body every surface answers `exc` with; `where` (a path, a panel) names it in the log.

    An error of ours carries its status and a message meant for users; anything else is a 500 whose message
    holds only an id, and whose traceback goes to the log under that id.
    """
    if isinstance(exc, HTTPException):
        return ErrorBody(exc.code or 500, exc.description or exc.name, http_name=exc.name)
    if isinstance(exc, BadParameter):
        return ErrorBody(exc.status, exc.message, param=exc.param)
    if isinstance(exc, DataUnavailable):
        return ErrorBody(
            exc.status, exc.message, table=exc.table, table_reason=exc.reason, expected_columns=exc.expected
        )
    if isinstance(exc, QueryRefused):
        return ErrorBody(exc.status, exc.message, reason=exc.reason)
    if isinstance(exc, DashappError):
        return ErrorBody(exc.status, exc.message)
    error_id = uuid.uuid4().hex[:12]
    log.error("%s failed (error id %s)", where, error_id, exc_info=exc)
    return ErrorBody(500, f"internal error (id {error_id})", error_id=error_id)
