"""Errors that cross module boundaries, each with the HTTP status it maps to."""

from __future__ import annotations


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
