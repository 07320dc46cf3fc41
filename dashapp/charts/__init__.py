"""Charts: the registry and the modules that register into it (imported for that side effect)."""

from . import alerts, backtests, correlation, drift, operations, overview, quality, sentiment, services, training  # noqa: F401
from .registry import REGISTRY, ChartSpec, Rendered, get_chart, parse_params, render

__all__ = ["REGISTRY", "ChartSpec", "Rendered", "get_chart", "parse_params", "render"]
