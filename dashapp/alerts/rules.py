"""Alert rules from a TOML file: each names a metric, its thresholds, how long and how often.

A default file ships with the app (default_rules.toml, Config.alert_rules); DASHAPP_ALERT_RULES
points to another. A threshold may name a setting instead of a number ("DASHAPP_DRIFT_PSI_WARNING"):
it takes the setting's value, so the rule and the page that shows the metric's status cannot disagree. A
malformed file stops the app at start with a message naming the rule and the field, because an
alert that silently never fires is worse than a portal that does not start.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .. import thresholds
from ..config import Config, env_name
from ..thresholds import COMPARISONS
from ..timerange import BUCKETS
from .metrics import METRICS
from .states import Thresholds

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
FIELDS = {
    "name": str,
    "metric": str,
    "comparison": str,
    "warning": float,
    "critical": float,
    "target": float,
    "for": int,
    "keep_firing_for": int,
    "resolve_after_nodata": int,
    "bucket": str,
    "labels": dict,
    "description": str,
    "recommendation": str,
}
# Buckets without data after which a firing alert resolves: its series has gone (Grafana resolves a missing
# series after 2 evaluations; 3 buckets ride out a weekend without daily returns).
RESOLVE_AFTER_NODATA = 3
REQUIRED = ("name", "metric", "comparison", "bucket", "description", "recommendation")


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    thresholds: Thresholds
    bucket: str
    description: str
    recommendation: str
    labels: dict[str, str] = field(default_factory=dict)  # only the metric's series with these labels
    target: float | None = None  # compare |value - target| instead of the value (a configured split)

    @property
    def bucket_seconds(self) -> int:
        return BUCKETS[self.bucket]

    def measure(self, value: float | None) -> float | None:
        """The number the thresholds apply to."""
        if value is None or self.target is None:
            return value
        return abs(value - self.target)


def configured_rules(config: Config) -> list[Rule]:
    """The rules of DASHAPP_ALERT_RULES, read once per version of the file and of the threshold settings it may
    name (checked at start by create_app)."""
    path = config.alert_rules
    return list(_load_cached(path, path.stat().st_mtime_ns if path.exists() else None, config))


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int | None, config: Config) -> tuple[Rule, ...]:
    return tuple(load_rules(path, config))


def load_rules(path: Path, config: Config | None = None) -> list[Rule]:
    """Read and check a rules file: [[rule]] tables, names unique; thresholds that name a setting take its value
    from `config` (default: the settings' defaults)."""
    config = config or Config()
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(document) - {"rule"}
    if unknown:
        raise RulesError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}; rules are [[rule]] tables")
    tables = document.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise RulesError(f"{path}: no [[rule]] tables")
    rules, seen = [], set()
    for number, table in enumerate(tables, start=1):
        rule = _rule(table, f"{path}: rule {table.get('name', f'#{number}')!r}", config)
        if rule.name in seen:
            raise RulesError(f"{path}: rule {rule.name!r}: name: used twice")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def _rule(table: dict, where: str, config: Config) -> Rule:
    for key in table:
        if key not in FIELDS:
            raise RulesError(f"{where}: {key}: unknown field (known: {', '.join(FIELDS)})")
    for key in REQUIRED:
        if key not in table:
            raise RulesError(f"{where}: {key}: missing")
    for key in ("warning", "critical"):
        if isinstance(table.get(key), str):
            table = {**table, key: _setting(table[key], key, where, config)}
    for key, kind in FIELDS.items():
        value = table.get(key)
        if value is None:
            continue
        wrong = isinstance(value, bool) or not (isinstance(value, kind) or (kind is float and isinstance(value, int)))
        if wrong:
            raise RulesError(f"{where}: {key}: must be {_kind_name(kind)}, got {value!r}")
    if not _NAME.match(table["name"]):
        raise RulesError(f"{where}: name: lower-case letters, digits and _, starting with a letter")
    metric = METRICS.get(table["metric"])
    if metric is None:
        raise RulesError(f"{where}: metric: unknown {table['metric']!r} (known: {', '.join(METRICS)})")
    if table["comparison"] not in COMPARISONS:
        raise RulesError(f"{where}: comparison: must be one of {' '.join(COMPARISONS)}")
    if "warning" not in table and "critical" not in table:
        raise RulesError(f"{where}: warning: a rule needs a warning or a critical threshold")
    for key in ("for", "keep_firing_for", "resolve_after_nodata"):
        if table.get(key, 0) < 0:
            raise RulesError(f"{where}: {key}: must be 0 or more buckets")
    if table["bucket"] not in metric.buckets:
        raise RulesError(f"{where}: bucket: {table['metric']} is evaluated per {' or '.join(metric.buckets)}")
    labels = table.get("labels", {})
    for key, value in labels.items():
        if key not in metric.labels or not isinstance(value, str):
            raise RulesError(f"{where}: labels: {key!r} must be one of {metric.name}'s labels {metric.labels} = text")
    thresholds = Thresholds(
        table["comparison"],
        _float(table.get("warning")),
        _float(table.get("critical")),
        table.get("for", 0),
        table.get("keep_firing_for", 0),
        table.get("resolve_after_nodata", RESOLVE_AFTER_NODATA),
    )
    return Rule(
        name=table["name"],
        metric=table["metric"],
        thresholds=thresholds,
        bucket=table["bucket"],
        description=table["description"],
        recommendation=table["recommendation"],
        labels=dict(labels),
        target=_float(table.get("target")),
    )


def _setting(name: str, key: str, where: str, config: Config) -> float:
    """The value of the threshold setting a rule names by its variable."""
    try:
        return thresholds.setting(config, name)
    except KeyError:
        known = ", ".join(env_name(field) for field in thresholds.THRESHOLD_FIELDS)
        raise RulesError(f"{where}: {key}: must be a number, got {name!r} (or a threshold setting: {known})") from None


def _float(value) -> float | None:
    return None if value is None else float(value)


def _kind_name(kind: type) -> str:
    return {str: "text", float: "a number", int: "a whole number", dict: "a table"}[kind]
