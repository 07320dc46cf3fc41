"""The drift engine: per-feature value counts from DuckDB, statistics and a decision per feature.

DuckDB does the counting (drift_histograms*.sql: every column's distinct values and counts in one
scan, one grouping set per column); this module turns those small aggregates into statistics (stats.py)
and decides. A window is compared with the `reference` table or with the previous window of the
same length.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import partial

import numpy as np
import pandas as pd

from ..config import Config
from ..contract import TABLES
from ..db import Database
from ..thresholds import SETTINGS, Threshold, judged
from . import stats

# Columns of predictions that are not model inputs: the contract's own, plus the partition column.
FIXED_COLUMNS = frozenset(
    [c.name for c in TABLES["predictions"].required] + [c.name for c in TABLES["predictions"].optional] + ["dt"]
)
BASELINES = ("reference", "previous")
_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$"
)
_CATEGORICAL = re.compile(r"^(VARCHAR|BOOLEAN|ENUM.*)$")


@dataclass(frozen=True)
class DriftRule:
    """When a feature counts as drifted. PSI decides, not a p-value: on millions of rows every
    difference is "significant" (p ~ 0), so p-values are shown as evidence, never as the rule."""

    # The defaults are Config's (DASHAPP_DRIFT_*), so the two cannot disagree.
    psi_warning: float = Config.drift_psi_warning
    psi_critical: float = Config.drift_psi_critical
    cardinality_growth: float = Config.drift_cardinality_growth
    prediction_kl: float = Config.drift_prediction_kl
    # Growth in distinct values decides only for features with at least this many in the baseline:
    # a fourth category among three is PSI's business, a flood of new IDs is this rule's.
    high_cardinality: int = 50

    @classmethod
    def from_config(cls, config: Config) -> DriftRule:
        return cls(
            psi_warning=config.drift_psi_warning,
            psi_critical=config.drift_psi_critical,
            cardinality_growth=config.drift_cardinality_growth,
            prediction_kl=config.drift_prediction_kl,
        )

    @property
    def psi_threshold(self) -> Threshold:
        """PSI's thresholds, compared as the drift.psi alert compares them (thresholds.SETTINGS)."""
        return Threshold(SETTINGS["drift.psi"][0], self.psi_warning, self.psi_critical)

    def decide(self, psi: float | None, growth: float | None, baseline_distinct: int = 0) -> tuple[str, str]:
        """Return (status, the rule that decided it)."""
        threshold = self.psi_threshold
        status = threshold.status(psi)
        if status in ("warning", "critical"):
            return status, f"PSI {psi:.3f} {threshold.sign(status)} {getattr(threshold, status)}"
        if growth is not None and baseline_distinct >= self.high_cardinality and growth >= self.cardinality_growth:
            return "warning", f"distinct values grew {growth:.2f}× ≥ {self.cardinality_growth}×"
        return "ok", f"PSI {psi:.3f} < {self.psi_warning}" if psi is not None else "no test"


@dataclass
class FeatureDrift:
    """One feature's comparison: the statistics, the bins behind PSI, and the decision."""

    feature: str
    kind: str  # numeric | categorical
    status: str  # ok | warning | critical | no data | skipped
    rule: str
    n_reference: int = 0
    n_current: int = 0
    nulls_reference: int = 0
    nulls_current: int = 0
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    wasserstein: float | None = None
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    js_distance: float | None = None
    kl_divergence: float | None = None
    cardinality_growth: float | None = None
    # A text feature with DriftRule.high_cardinality or more values in its baseline (IDs): the share of drifted
    # features leaves it out, on the page as in the alert, since over a day's rows its PSI follows the sample's size.
    high_cardinality: bool = False
    # PSI's bins: label, reference share, current share, contribution (shares clipped as PSI uses them).
    bins: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """Every field but the bins (a text feature can have thousands; asdict() would copy them all)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "bins"}


def kind_of(data_type: str) -> str:
    """A DuckDB type's drift kind: numeric, categorical, or unsupported (the type)."""
    if _NUMERIC.match(data_type):
        return "numeric"
    if _CATEGORICAL.match(data_type):
        return "categorical"
    return f"unsupported ({data_type})"


def feature_kinds(columns: dict[str, str]) -> dict[str, str]:
    """The input features among predictions' columns, with their kinds."""
    return {name: kind_of(data_type) for name, data_type in columns.items() if name not in FIXED_COLUMNS}


@dataclass(frozen=True)
class Window:
    """What to compare: predictions in [start, end) with filters, against `baseline`."""

    start: datetime
    end: datetime
    baseline: str = "reference"
    symbol: tuple[str, ...] = ()
    model_version: str | None = None

    def __post_init__(self):
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {', '.join(BASELINES)}")

    def params(self, previous: bool = False) -> dict:
        start, end = self.start, self.end
        if previous:  # the window of the same length before; none reaches back before year 1
            start, end = max(datetime.min + (end - start), start) - (end - start), start
        return {"start": start, "end": end, "symbol": list(self.symbol), "model_version": self.model_version}


def compare(db: Database, window: Window, rule: DriftRule | None = None) -> list[FeatureDrift]:
    """Compare every input feature of the window with its baseline (memoized).

    The rule defaults to the thresholds in the database's config (DASHAPP_DRIFT_*).
    """
    rule = rule or DriftRule.from_config(db.config)
    key = {**asdict(window), "rule": asdict(rule)}
    return db.memoize("drift_compare", key, ("predictions", "reference"), lambda: _compare(db, window, rule))


def _compare(db: Database, window: Window, rule: DriftRule) -> list[FeatureDrift]:
    own_types = db.columns("predictions")
    kinds = feature_kinds(own_types)
    reference_types = db.columns("reference") if window.baseline == "reference" else None
    results, tested = {}, []
    for feature, kind in kinds.items():
        if kind.startswith("unsupported"):
            results[feature] = FeatureDrift(feature, kind, "skipped", f"no drift test for type {kind[13:-1]}")
        elif reference_types is not None and feature not in reference_types:
            results[feature] = FeatureDrift(feature, kind, "skipped", "the reference table has no such column")
        elif reference_types is not None and kind_of(reference_types[feature]) != kind:
            message = f"type differs: {own_types[feature]} now, {reference_types[feature]} in the reference"
            results[feature] = FeatureDrift(feature, kind, "skipped", message)
        else:
            tested.append(feature)
    base, current = histograms(db, window, tested)
    top_k = db.config.drift_top_k
    for feature in tested:
        results[feature] = feature_drift(feature, kinds[feature], base[feature], current[feature], rule, top_k)
    return [results[f] for f in kinds]


# One column's sample as DuckDB's histogram() gives it: distinct values, their counts, and the NULL count.
Sample = tuple[np.ndarray, np.ndarray, int]


def histograms(db: Database, window: Window, columns: list[str]) -> tuple[dict[str, Sample], dict[str, Sample]]:
    """(baseline, window) samples of the given columns, one scan each."""
    if not columns:
        return {}, {}
    current = _window_samples(db, window.params(), columns)
    if window.baseline == "reference":
        return _reference_samples(db, columns), current
    return _window_samples(db, window.params(previous=True), columns), current


# GROUPING_ID takes at most 64 columns; wider tables are counted in several scans.
_MAX_GROUPING_COLUMNS = 64


def _window_samples(db: Database, params: dict, columns: list[str]) -> dict[str, Sample]:
    return _grouping_sets(lambda chunk: db.run("drift_histograms", **params, columns=chunk), columns, _samples)


def reference_counts(db: Database, column: str) -> dict:
    """How often each value of one reference column occurs (NULLs left out)."""
    values, counts, _ = _reference_samples(db, [column])[column]
    return dict(zip(values, counts.tolist(), strict=True))


def _reference_samples(db: Database, columns: list[str]) -> dict[str, Sample]:
    return _grouping_sets(lambda chunk: db.run("drift_histograms_reference", columns=chunk), columns, _samples)


def _grouping_sets(run, columns: list[str], read) -> dict:
    """Run a query with one grouping set per column, at most 64 columns a call; read(frame, column, rows) each."""
    out = {}
    for start in range(0, len(columns), _MAX_GROUPING_COLUMNS):
        chunk = columns[start : start + _MAX_GROUPING_COLUMNS]
        frame = run(chunk)
        set_ids, everything = frame["set_id"].to_numpy(), (1 << len(chunk)) - 1
        for i, name in enumerate(chunk):  # a column's own bit is 0 in its set's id; the first is the highest
            out[name] = read(frame, name, np.flatnonzero(set_ids == everything ^ (1 << (len(chunk) - 1 - i))))
    return out


def _samples(frame: pd.DataFrame, name: str, rows: np.ndarray) -> Sample:
    """One column's values, their counts and its NULL count, from its grouping set's rows.

    NaN counts as missing, as pandas' dropna() has it: DuckDB keeps NaN apart from NULL, but no
    statistic here has a meaning for it.
    """
    values, counts = frame[name].take(rows), frame["n"].to_numpy(dtype=np.int64)[rows]
    missing = values.isna().to_numpy()
    return values.to_numpy(dtype=object)[~missing], counts[~missing], int(counts[missing].sum())


def prediction_drift(db: Database, window: Window, rule: DriftRule | None = None) -> list[FeatureDrift]:
    """The model's outputs against the baseline: the label mix (KL) and sentiment_score (numeric tests).

    Memoized like compare(): the KS p-value alone (scipy's kstwo at n ~ 10^6) can take 0.2 s.
    """
    rule = rule or DriftRule.from_config(db.config)
    key = {**asdict(window), "rule": asdict(rule)}
    return db.memoize("prediction_drift", key, ("predictions", "reference"), lambda: _prediction(db, window, rule))


def _prediction(db: Database, window: Window, rule: DriftRule) -> list[FeatureDrift]:
    base, current = histograms(db, window, ["sentiment_score", "label"])
    labels = feature_drift("label", "categorical", base["label"], current["label"], rule, db.config.drift_top_k)
    if labels.kl_divergence is not None:  # compared as the prediction.label_kl alert compares it
        threshold = Threshold(SETTINGS["prediction.label_kl"][0], rule.prediction_kl)
        labels.status = threshold.status(labels.kl_divergence)
        labels.rule = f"KL {labels.kl_divergence:.3f} {threshold.sign(labels.status)} {rule.prediction_kl}"
    score = feature_drift("sentiment_score", "numeric", base["sentiment_score"], current["sentiment_score"], rule)
    return [labels, score]


def feature_drift(
    feature: str, kind: str, base: Sample, current: Sample, rule: DriftRule, top_k: int = Config.drift_top_k
) -> FeatureDrift:
    """Compute one feature's statistics from its two samples (distinct values, counts, NULL count).

    A text feature's PSI bins are the baseline's `top_k` categories and one "other" bin (stats.top_k_bins).
    """
    base_values, base_counts, base_nulls = base
    cur_values, cur_counts, cur_nulls = current
    result = FeatureDrift(
        feature,
        kind,
        "no data",
        "",
        n_reference=int(base_counts.sum()),
        n_current=int(cur_counts.sum()),
        nulls_reference=base_nulls,
        nulls_current=cur_nulls,
    )
    if not len(base_values) or not len(cur_values):
        empty = "the baseline" if not len(base_values) else "this window"
        result.rule = f"no non-NULL values in {empty}"
        return result
    if kind == "numeric":
        _numeric(result, base_values.astype(float), base_counts, cur_values.astype(float), cur_counts)
    else:
        _categorical(result, base_values, base_counts, cur_values, cur_counts, top_k)
    result.status, result.rule = rule.decide(result.psi, result.cardinality_growth, len(base_values))
    return result


def _numeric(result: FeatureDrift, base_values, base_counts, cur_values, cur_counts) -> None:
    order_b, order_c = np.argsort(base_values), np.argsort(cur_values)
    base_values, base_counts = base_values[order_b], base_counts[order_b]
    cur_values, cur_counts = cur_values[order_c], cur_counts[order_c]
    edges = stats.decile_edges(base_values, base_counts)
    base_bins = stats.bin_counts(base_values, base_counts, edges)
    cur_bins = stats.bin_counts(cur_values, cur_counts, edges)
    result.ks_statistic, result.wasserstein = stats.ks_and_wasserstein(base_values, base_counts, cur_values, cur_counts)
    result.ks_pvalue = stats.ks_pvalue(result.ks_statistic, result.n_reference, result.n_current)
    bounds = ["-inf", *(f"{e:.6g}" for e in edges), "+inf"]
    labels = [f"({lo}, {hi}]" if hi != "+inf" else f"({lo}, +inf)" for lo, hi in zip(bounds, bounds[1:], strict=False)]
    _psi(result, labels, base_bins, cur_bins)


def _categorical(result: FeatureDrift, base_values, base_counts, cur_values, cur_counts, top_k: int) -> None:
    base = dict(zip(map(str, base_values), base_counts, strict=True))
    cur = dict(zip(map(str, cur_values), cur_counts, strict=True))
    categories = sorted(set(base) | set(cur))
    base_table = [int(base.get(c, 0)) for c in categories]
    cur_table = [int(cur.get(c, 0)) for c in categories]
    result.chi2_statistic, result.chi2_pvalue = stats.chi2(base_table, cur_table)
    result.js_distance = stats.js_distance(base_table, cur_table)
    result.kl_divergence = stats.kl_divergence(cur_table, base_table)
    result.cardinality_growth = stats.cardinality_growth(base_table, cur_table)
    result.high_cardinality = len(base) >= DriftRule.high_cardinality
    labels, index = stats.top_k_bins(categories, base_table, top_k)
    _psi(result, labels, stats.merge_bins(base_table, index), stats.merge_bins(cur_table, index))


def _psi(result: FeatureDrift, labels: list[str], base_bins, cur_bins) -> None:
    terms = stats.psi_terms(base_bins, cur_bins)
    result.psi = float(terms.sum())
    base_shares, cur_shares = stats.shares(base_bins), stats.shares(cur_bins)
    result.bins = [
        {"bin": label, "reference_share": float(b), "current_share": float(c), "psi_contribution": float(t)}
        for label, b, c, t in zip(labels, base_shares, cur_shares, terms, strict=True)
    ]


# A bucket with fewer non-NULL values than this gets no PSI: its shares are noise, not drift.
MIN_BUCKET_VALUES = 100


def label_kl_by_day(db: Database, params: dict, threshold: Threshold | None = None) -> pd.DataFrame:
    """Per prediction day with enough predictions: KL(the day's label mix || the reference's) as `value`, the
    divergence the prediction drift decides with (prediction_drift), and its thresholds and status.

    `params`: start, end, symbol, model_version (sentiment_daily.sql's). Returns bucket (the day), value, warning,
    critical, status.
    """
    daily = db.run("sentiment_daily", **params)
    counts = daily.groupby(["day", "label"])["n"].sum().unstack(fill_value=0)
    reference = reference_counts(db, "label")
    labels = sorted(set(counts.columns) | set(reference))
    base = [reference.get(label, 0) for label in labels]
    rows = pd.DataFrame(
        [
            {
                "bucket": pd.Timestamp(day),
                "value": stats.kl_divergence(row.reindex(labels, fill_value=0).to_numpy(), base),
            }
            for day, row in counts.iterrows()
            if row.sum() >= MIN_BUCKET_VALUES
        ],
        columns=["bucket", "value"],
    )
    return judged(rows, threshold)


def drift_over_time(db: Database, window: Window, bucket_seconds: int) -> pd.DataFrame:
    """PSI per feature per time bucket against the reference and against the bucket before.

    Bins are fixed for the whole window so cells compare across time: the reference's deciles (or top
    DASHAPP_DRIFT_TOP_K categories and "other", as on the feature table) when the reference has the
    feature, else the window's own. Two scans of the window count every feature per bucket: one for
    the numeric features' bins, one for the text features' values. Returns one row per (feature,
    bucket): n, psi_reference (None without a reference), psi_previous, whether it is a
    high-cardinality text feature (its binning sample has at least DriftRule.high_cardinality values)
    and, for those against the reference, cardinality_growth (stats.cardinality_growth: distinct
    values per the reference's, at equal sample sizes).
    """
    key = {**asdict(window), "bucket": bucket_seconds}
    return db.memoize(
        "drift_over_time", key, ("predictions", "reference"), lambda: _over_time(db, window, bucket_seconds)
    )


def _over_time(db: Database, window: Window, bucket_seconds: int) -> pd.DataFrame:
    kinds = {f: k for f, k in feature_kinds(db.columns("predictions")).items() if not k.startswith("unsupported")}
    reference = db.sources(["reference"])["reference"] is not None
    reference_types = db.columns("reference") if reference else {}
    usable = [f for f, k in kinds.items() if f in reference_types and kind_of(reference_types[f]) == k]
    references = _reference_samples(db, usable) if usable else {}
    # The bins: the reference's, else (no reference column, or an empty one) the window's own.
    own = [f for f in kinds if f not in references or not len(references[f][0])]
    pooled = {**references, **(_window_samples(db, window.params(), own) if own else {})}
    present = [f for f in kinds if len(pooled[f][0])]
    by_bucket = {**window.params(), "bucket": bucket_seconds}
    numeric = {f: pooled[f] for f in present if kinds[f] == "numeric"}
    categorical = {f: pooled[f] for f in present if kinds[f] == "categorical"}
    text, psi_bins = _categorical_buckets(db, by_bucket, categorical, db.config.drift_top_k)
    binned = {**_numeric_buckets(db, by_bucket, numeric), **text}

    rows = []
    for feature in present:
        base_counts, buckets = binned[feature]
        # A text feature's PSI on its top K categories and "other"; its growth in distinct values on every category.
        index = psi_bins.get(feature)
        merge = _unmerged if index is None else partial(stats.merge_bins, index=index)
        base_bins = None if feature in own else merge(base_counts)  # binned on the window itself: no reference PSI
        # Thousands of IDs over a day's rows: PSI measures the sample's size more than drift (DriftRule).
        many = kinds[feature] == "categorical" and len(pooled[feature][0]) >= DriftRule.high_cardinality
        grows = many and base_bins is not None  # growth in distinct values: against the reference only
        previous = None
        for bucket, counts in buckets:
            n = int(counts.sum())
            thin = n < MIN_BUCKET_VALUES
            bins = merge(counts)
            rows.append(
                {
                    "feature": feature,
                    "bucket": bucket,
                    "n": n,
                    "psi_reference": None if thin or base_bins is None else stats.psi(base_bins, bins),
                    "psi_previous": None if thin or previous is None else stats.psi(previous, bins),
                    "high_cardinality": many,
                    "cardinality_growth": stats.cardinality_growth(base_counts, counts) if grows and not thin else None,
                }
            )
            previous = None if thin else bins
    columns = ["feature", "bucket", "n", "psi_reference", "psi_previous", "high_cardinality", "cardinality_growth"]
    return pd.DataFrame(rows, columns=columns)


def _unmerged(counts: np.ndarray) -> np.ndarray:
    return counts


# Per feature: the counts per bin of the sample that set the bins, and (bucket, counts per bin) per bucket.
Buckets = dict[str, tuple[np.ndarray, list[tuple[pd.Timestamp, np.ndarray]]]]


def _numeric_buckets(db: Database, by_bucket: dict, samples: dict[str, Sample]) -> Buckets:
    """Bin numeric features on their samples' deciles; one scan counts every feature per bucket."""
    if not samples:
        return {}
    ordered, edges = {}, {}
    for feature, (values, counts, _) in samples.items():
        order = np.argsort(values.astype(float))
        ordered[feature] = (values.astype(float)[order], counts[order])
        edges[feature] = stats.decile_edges(*ordered[feature])
    features = list(samples)
    frame = db.run("drift_bins_by_bucket", **by_bucket, columns=features, edges=[edges[f].tolist() for f in features])
    out = {}
    for feature in features:
        size = len(edges[feature]) + 1
        # DuckDB lists the overflow bin (above the last edge) only when a value falls in it; NULL: no value.
        counted = (np.asarray([] if bins is None else bins, dtype=float) for bins in frame[feature])
        buckets = [
            (bucket, np.pad(bins, (0, size - len(bins)))) for bucket, bins in zip(frame["bucket"], counted, strict=True)
        ]
        out[feature] = (stats.bin_counts(*ordered[feature], edges[feature]), buckets)
    return out


def _categorical_buckets(
    db: Database, by_bucket: dict, samples: dict[str, Sample], top_k: int
) -> tuple[Buckets, dict[str, np.ndarray]]:
    """Count text features per value and bucket (one scan per 64 features), over the samples' categories.

    Also returns, per feature, each category's PSI bin: the sample's top_k categories and "other" (stats.top_k_bins).
    """

    def run(chunk: list[str]) -> pd.DataFrame:
        return db.run("drift_values_by_bucket", **by_bucket, columns=chunk)

    def rows_of(frame: pd.DataFrame, name: str, rows: np.ndarray) -> pd.DataFrame:
        return frame.iloc[rows][[name, "bucket", "n"]]

    counts = _grouping_sets(run, list(samples), rows_of)
    out, psi_bins = {}, {}
    for feature, frame in counts.items():
        frame = frame[frame[feature].notna()].assign(value=lambda f, c=feature: f[c].map(str))
        # Categories are named as the samples name them: str(True), not DuckDB's 'true'.
        categories = sorted(set(map(str, samples[feature][0])) | set(frame["value"]))
        table = frame.pivot_table(index="bucket", columns="value", values="n", aggfunc="sum", fill_value=0)
        table = table.reindex(columns=categories, fill_value=0)
        known = dict(zip(map(str, samples[feature][0]), samples[feature][1], strict=True))
        base = np.array([known.get(c, 0) for c in categories], dtype=float)
        out[feature] = (base, [(bucket, row.to_numpy(dtype=float)) for bucket, row in table.iterrows()])
        psi_bins[feature] = stats.top_k_bins(categories, base, top_k)[1]
    return out, psi_bins
