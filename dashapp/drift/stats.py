"""Drift statistics from the small aggregates DuckDB returns: counts per bin or category, never raw rows.

Each function states which scipy (or numpy) computation it equals; tests/drift prove it on fixed
data sets with ties, NULLs and skew.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats
from scipy.spatial import distance

# Each bin's share is clipped below at this before PSI's logarithm.
MIN_SHARE = 0.0001


def shares(counts) -> np.ndarray:
    """Counts to shares of their total, clipped below at MIN_SHARE (no renormalisation)."""
    counts = np.asarray(counts, dtype=float)
    return np.clip(counts / counts.sum(), MIN_SHARE, None)


def psi_terms(reference_counts, current_counts) -> np.ndarray:
    """Each bin's contribution to the population stability index: (cur - ref) * ln(cur / ref)."""
    ref, cur = shares(reference_counts), shares(current_counts)
    return (cur - ref) * np.log(cur / ref)


def psi(reference_counts, current_counts) -> float:
    return float(psi_terms(reference_counts, current_counts).sum())


def top_k_bins(categories: list[str], reference_counts, k: int) -> tuple[list[str], np.ndarray]:
    """PSI's bins for a text feature: each of the k categories most frequent in the reference its own bin, every
    other category, of either sample, in one "other" bin after them. Returns the bins' labels and, per category,
    the index of its bin (for merge_bins).

    Categories are ranked by reference count, ties by name, so the bins do not depend on input order. With k
    categories or fewer each keeps its own bin in the given order. Otherwise a stable sample of thousands of IDs
    would have thousands of near-empty bins, each clipped to MIN_SHARE on one side, and PSI would measure the
    sample's size rather than a change.
    """
    if len(categories) <= k:
        return list(categories), np.arange(len(categories))
    reference_counts = np.asarray(reference_counts, dtype=float)
    ranked = sorted(range(len(categories)), key=lambda i: (-reference_counts[i], categories[i]))
    kept = np.sort(ranked[:k])
    index = np.full(len(categories), k)
    index[kept] = np.arange(k)
    other = f"(other: {len(categories) - k:,} categories)"
    return [categories[i] for i in kept] + [other], index


def merge_bins(counts, index: np.ndarray) -> np.ndarray:
    """Counts per category summed into the bins top_k_bins assigned them."""
    return np.bincount(index, weights=np.asarray(counts, dtype=float), minlength=int(index.max(initial=-1)) + 1)


def quantiles(values: np.ndarray, counts: np.ndarray, levels) -> np.ndarray:
    """numpy.quantile(sample, levels) (method "linear") of a sample given as sorted distinct values and counts."""
    total = int(counts.sum())
    ends = np.cumsum(counts)  # order statistic i (0-based) is values[searchsorted(ends, i, "right")]
    out = []
    for q in levels:
        h = (total - 1) * q
        below = math.floor(h)
        a = values[np.searchsorted(ends, below, side="right")]
        b = values[np.searchsorted(ends, min(below + 1, total - 1), side="right")]
        t = h - below
        # numpy's _lerp, term for term, so the edges are bit-identical to numpy.quantile's.
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return np.array(out, dtype=float)


DECILES = [i / 10 for i in range(1, 10)]


def decile_edges(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """PSI bin edges: the reference's deciles, duplicates dropped."""
    return np.unique(quantiles(values, counts, DECILES))


def bin_counts(values: np.ndarray, counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (-inf, e1], (e1, e2], ..., (ek, +inf) of a sample given as distinct values and counts."""
    return np.bincount(np.searchsorted(edges, values, side="left"), weights=counts, minlength=len(edges) + 1)


def ks_and_wasserstein(
    ref_values: np.ndarray, ref_counts: np.ndarray, cur_values: np.ndarray, cur_counts: np.ndarray
) -> tuple[float, float]:
    """Exact two-sample KS statistic and Wasserstein-1 distance from two (sorted distinct value, count) samples.

    Over the merged distinct values v, F(v) is the share of a sample <= v (scipy's searchsorted
    "right"), so ties count as scipy counts them; D = max |F_ref - F_cur| (scipy.stats.ks_2samp),
    W = sum |F_ref - F_cur| * (next v - v) (scipy.stats.wasserstein_distance).
    """
    merged = np.union1d(ref_values, cur_values)
    f_ref = _cdf(merged, ref_values, ref_counts)
    f_cur = _cdf(merged, cur_values, cur_counts)
    gaps = np.abs(f_ref - f_cur)
    return float(gaps.max()), float(np.sum(gaps[:-1] * np.diff(merged)))


def _cdf(at: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    below = np.concatenate([[0], np.cumsum(counts)])
    return below[np.searchsorted(values, at, side="right")] / below[-1]


def ks_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided p-value exactly as scipy.stats.ks_2samp(method="asymp") computes it from D, n1 and n2."""
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(en)), 0, 1))


def chi2(reference_counts, current_counts) -> tuple[float, float]:
    """Chi-square statistic and p-value of scipy.stats.chi2_contingency on the 2 x K table of counts.

    Categories seen in neither sample must be left out by the caller (their expected count is 0).
    With one category there is nothing to test: (0.0, 1.0), which is what scipy returns.
    """
    table = np.array([reference_counts, current_counts], dtype=float)
    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def js_distance(reference_counts, current_counts) -> float:
    """Jensen-Shannon distance (natural log) of the two category distributions, as scipy's jensenshannon."""
    return float(distance.jensenshannon(np.asarray(reference_counts, float), np.asarray(current_counts, float)))


def kl_divergence(current_counts, reference_counts) -> float:
    """KL(current || reference), natural log, as scipy.stats.entropy of the two share vectors.

    Shares are clipped like PSI's first, so a label the reference never produced gives a large
    but finite divergence; entropy renormalises them.
    """
    return float(stats.entropy(shares(current_counts), shares(reference_counts)))


def rarefied_distinct(counts, rows: int) -> float:
    """Expected number of distinct values among `rows` drawn without replacement from a sample with these
    counts: Hurlbert's rarefaction, the sum over values of 1 - C(N - n_i, rows) / C(N, rows).

    With `rows` = N it is the sample's own number of distinct values.
    """
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    rest = total - counts  # a value is missed only by a draw of `rows` from the other `rest` rows
    log_missed = special.gammaln(rest + 1) - special.gammaln(np.maximum(rest - rows, 0) + 1)
    log_missed -= special.gammaln(total + 1) - special.gammaln(total - rows + 1)
    return float(np.sum(np.where(rest >= rows, -np.expm1(log_missed), 1.0)))


def cardinality_growth(reference_counts, current_counts) -> float:
    """Distinct values now per distinct value in the reference, both samples rarefied to the smaller's size.

    A smaller sample holds fewer distinct values, so the plain ratio would follow the samples' sizes (a
    quiet day would look like shrinking); at equal sizes the two are the same.
    """
    rows = int(min(np.sum(reference_counts), np.sum(current_counts)))
    return rarefied_distinct(current_counts, rows) / rarefied_distinct(reference_counts, rows)
