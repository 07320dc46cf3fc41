"""The portal's pages by path, with the name a person knows each by: the navigation shows these names, and a link
to a page from a chart (an alert's "open Drift →") says the same one."""

from __future__ import annotations

PAGE_NAMES = {
    "/": "Overview",
    "/quality": "Data quality",
    "/drift": "Drift",
    "/sentiment": "Sentiment",
    "/backtests": "Backtests",
    "/correlation": "Correlation",
    "/operations": "Operations",
    "/alerts": "Alerts",
}
