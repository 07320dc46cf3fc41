"""Classification figures of the sentiment model from confusion counts (scikit-learn's definitions).

The counts come from queries/sentiment_confusion.sql; nothing here sees a raw prediction.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..thresholds import Threshold, judged

Z95 = stats.norm.ppf(0.975)


def classification(counts: pd.DataFrame) -> dict:
    """Accuracy, macro F1 and per-label precision, recall and F1 from rows (label, true_label, n).

    As sklearn's precision_recall_fscore_support with average="macro": the labels are every label
    predicted or true; a precision or recall with a zero denominator counts as 0.
    """
    table = counts.groupby(["true_label", "label"])["n"].sum().unstack(fill_value=0)
    labels = sorted(set(table.index) | set(table.columns))
    table = table.reindex(index=labels, columns=labels, fill_value=0)
    matrix = table.to_numpy(dtype=float)
    total = matrix.sum()
    true_positive = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(actual > 0, true_positive / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "n": int(total),
        "correct": int(true_positive.sum()),
        "accuracy": float(true_positive.sum() / total) if total else None,
        "macro_f1": float(f1.mean()) if total else None,
        "labels": labels,
        "precision": dict(zip(labels, precision.tolist(), strict=True)),
        "recall": dict(zip(labels, recall.tolist(), strict=True)),
        "f1": dict(zip(labels, f1.tolist(), strict=True)),
        "confusion": table,
    }


def macro_intervals(
    confusion: pd.DataFrame, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float]] | None:
    """Percentile bootstrap intervals of macro F1, precision and recall from a confusion matrix.

    Macro averages are not proportions, so they get no Wilson interval. Each of these figures
    depends on the predictions only through their confusion matrix, so resampling the matrix's
    cells multinomially is the same as resampling the predictions themselves, without them.
    The seed is fixed: the same counts always show the same interval. None without predictions.
    """
    matrix = confusion.to_numpy(dtype=float)
    total, size = int(matrix.sum()), len(matrix)
    if total == 0:
        return None
    draws = np.random.default_rng(seed).multinomial(total, (matrix / total).ravel(), size=resamples)
    draws = draws.reshape(resamples, size, size).astype(float)
    hits = np.diagonal(draws, axis1=1, axis2=2)
    predicted, actual = draws.sum(axis=1), draws.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):  # the zero-denominator rule of classification()
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        recall = np.where(actual > 0, hits / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    tails = [(1 - level) / 2, (1 + level) / 2]
    return {
        name: tuple(float(q) for q in np.quantile(values.mean(axis=1), tails))
        for name, values in (("macro_f1", f1), ("precision", precision), ("recall", recall))
    }


def classification_by(counts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """classification()'s n, correct, accuracy and macro F1 for every group of `keys` at once.

    The same definitions, without a Python loop per group: a chart of many days stays cheap.
    """
    right = counts["label"] == counts["true_label"]
    predicted = counts.groupby([*keys, "label"])["n"].sum()
    actual = counts.groupby([*keys, "true_label"])["n"].sum().rename_axis([*keys, "label"])
    hits = counts[right].groupby([*keys, "label"])["n"].sum()
    index = predicted.index.union(actual.index)  # per group: every label predicted or true
    predicted, actual, hits = (x.reindex(index, fill_value=0).astype(float) for x in (predicted, actual, hits))
    precision = (hits / predicted).where(predicted > 0, 0.0)
    recall = (hits / actual).where(actual > 0, 0.0)
    f1 = (2 * precision * recall / (precision + recall)).where(precision + recall > 0, 0.0)
    frame = counts.assign(correct=counts["n"].where(right, 0)).groupby(keys)[["n", "correct"]].sum()
    frame["accuracy"] = frame["correct"] / frame["n"]
    frame["macro_f1"] = f1.groupby(level=list(range(len(keys)))).mean()
    return frame.reset_index()


def accuracy(
    counts: pd.DataFrame, keys: list[str], threshold: Threshold | None = None, minimum: int = 0
) -> pd.DataFrame:
    """The one accuracy: per group of `keys`, predictions with an outcome (n), the right ones (correct), accuracy
    (also as `value`), macro F1, and the thresholds and status that apply. Groups with fewer than `minimum`
    outcomes get no row."""
    frame = classification_by(counts, keys)
    frame = frame[frame["n"] >= minimum].reset_index(drop=True)
    return judged(frame.assign(value=frame["accuracy"].to_numpy(dtype=float)), threshold)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (95% by default); None without trials."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def two_proportions(successes_a: int, n_a: int, successes_b: int, n_b: int) -> tuple[float, float] | None:
    """Pooled two-proportion z-test: (z, two-sided p) for a's rate against b's; None when undefined."""
    if n_a == 0 or n_b == 0:
        return None
    pooled = (successes_a + successes_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return None
    z = (successes_a / n_a - successes_b / n_b) / spread
    return z, float(2 * stats.norm.sf(abs(z)))


def calibration(rows: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Per confidence decile: predictions, mean confidence and accuracy; and the expected calibration error.

    `rows` has confidence_bin, n, confidence_sum and correct. ECE = sum over bins of
    (bin's share of predictions) * |accuracy - mean confidence|.
    """
    bins = rows.groupby("confidence_bin")[["n", "confidence_sum", "correct"]].sum().reset_index()
    bins["confidence"] = bins["confidence_sum"] / bins["n"]
    bins["accuracy"] = bins["correct"] / bins["n"]
    total = bins["n"].sum()
    ece = float((bins["n"] / total * (bins["accuracy"] - bins["confidence"]).abs()).sum()) if total else None
    return bins[["confidence_bin", "n", "confidence", "accuracy"]], ece
