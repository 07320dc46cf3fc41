"""Cache warming: render every chart's default views into the results cache, so the first visitor finds them.

For `dashapp warm` (cron, after a deploy) and for a scheduler that runs after new data arrives. A page
opened without a query string renders each chart with its parameters' defaults, `render(spec, {}, db)`:
that view is always warmed, under the label of its window (7d for a default start of now-7d). The other
windows asked for are rendered with `start=now-<n>d`; the default's own window is rendered as `{}`, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .charts import REGISTRY, render
from .charts.registry import ChartSpec
from .db import Database
from .errors import DashappError


@dataclass(frozen=True)
class WarmResult:
    """One chart view: `seconds` it took to render, or `skipped` with the reason it could not be computed."""

    chart_id: str
    view: str  # the window, 7d or 30d; `all` for a chart without one
    seconds: float | None = None
    skipped: str | None = None


def default_views(spec: ChartSpec, days: Iterable[int]) -> dict[str, dict[str, list[str]]]:
    """A chart's views to warm, label -> query string (as parsed): its default view `{}` and each window in `days`.

    A chart without a time window (backtests: the runs' whole span) has the default view only.
    """
    start = next((p for p in spec.params if p.name == "start"), None)
    if start is None:
        return {"all": {}}
    default = str(start.default)
    views = {default.removeprefix("now-"): {}}
    for n in days:
        views.setdefault(f"{n}d", {"start": [f"now-{n}d"]})
    return views


def warm_default_views(
    db: Database, days: Iterable[int] = (7, 30), report: Callable[[WarmResult], None] | None = None
) -> list[WarmResult]:
    """Render each registered chart's default views through `db`'s cache, in registry order.

    A view that cannot be computed (a DashappError: a table missing, a query refused) is skipped with its
    message; other errors propagate. `report` sees each result as it comes. `db.cache` must be usable
    here: the portal's flask-caching Cache needs its Flask app's context.
    """
    days = tuple(days)
    results = []
    for spec in REGISTRY.values():
        for label, query in default_views(spec, days).items():
            result = _warm(spec, label, query, db)
            results.append(result)
            if report is not None:
                report(result)
    return results


def _warm(spec: ChartSpec, label: str, query: dict, db: Database) -> WarmResult:
    started = time.perf_counter()
    db.begin_snapshot()  # one scan of each table per view, as a request sees it
    try:
        render(spec, query, db)
    except DashappError as exc:
        return WarmResult(spec.id, label, skipped=exc.message)
    finally:
        db.end_snapshot()
    return WarmResult(spec.id, label, seconds=time.perf_counter() - started)
