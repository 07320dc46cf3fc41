"""dashapp/drift/stats.py equals scipy and numpy on fixed samples with ties, NULLs and skew."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from dashapp.drift import stats as drift

RNG = np.random.default_rng(20261123)
NUMERIC_SAMPLES = {
    # name: (reference, current); NaN stands for NULL and is left out, as the SQL leaves NULLs out.
    "normal shift": (RNG.normal(0, 1, 5000), RNG.normal(0.3, 1.2, 4000)),
    "integer ties": (RNG.poisson(4, 3000).astype(float), RNG.poisson(5, 2500).astype(float)),
    "heavy skew": (RNG.lognormal(0, 1.5, 4000), RNG.lognormal(0.2, 1.5, 6000)),
    "few values": (RNG.choice([1.0, 2.0, 2.0, 3.0], 2000), RNG.choice([1.0, 2.0, 3.0, 3.0], 1500)),
    "with NULLs": (
        np.where(RNG.random(3000) < 0.1, np.nan, RNG.normal(5, 2, 3000).round(1)),
        np.where(RNG.random(2000) < 0.3, np.nan, RNG.normal(5.5, 2, 2000).round(1)),
    ),
    "identical": (np.arange(100.0), np.arange(100.0)),
    "constant reference": (np.full(500, 7.0), RNG.normal(7, 1, 500).round(0)),
}


def grouped(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the SQL returns for a sample: sorted distinct non-NULL values and their counts."""
    values, counts = np.unique(sample[~np.isnan(sample)], return_counts=True)
    return values, counts


def psi_by_definition(reference: np.ndarray, current: np.ndarray) -> float:
    """Issue 3's PSI with numpy alone: decile edges, duplicates dropped, right-closed bins, shares clipped."""
    edges = np.unique(np.quantile(reference, np.arange(1, 10) / 10))
    ref = np.bincount(np.digitize(reference, edges, right=True), minlength=len(edges) + 1) / len(reference)
    cur = np.bincount(np.digitize(current, edges, right=True), minlength=len(edges) + 1) / len(current)
    ref, cur = np.clip(ref, 0.0001, None), np.clip(cur, 0.0001, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


@pytest.mark.parametrize("name", NUMERIC_SAMPLES)
def test_ks_and_wasserstein_equal_scipy(name):
    reference, current = (s[~np.isnan(s)] for s in NUMERIC_SAMPLES[name])
    ks, wasserstein = drift.ks_and_wasserstein(*grouped(reference), *grouped(current))
    expected = stats.ks_2samp(reference, current, method="asymp")
    assert ks == pytest.approx(expected.statistic, abs=1e-9)
    assert wasserstein == pytest.approx(stats.wasserstein_distance(reference, current), abs=1e-9, rel=1e-9)
    pvalue = drift.ks_pvalue(ks, len(reference), len(current))
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("name", NUMERIC_SAMPLES)
def test_deciles_from_grouped_counts_equal_numpy_quantile_bit_for_bit(name):
    reference = NUMERIC_SAMPLES[name][0]
    reference = reference[~np.isnan(reference)]
    got = drift.quantiles(*grouped(reference), drift.DECILES)
    assert got.tolist() == np.quantile(reference, drift.DECILES).tolist()


@pytest.mark.parametrize("name", NUMERIC_SAMPLES)
def test_psi_equals_the_numpy_definition(name):
    reference, current = (s[~np.isnan(s)] for s in NUMERIC_SAMPLES[name])
    values, counts = grouped(reference)
    edges = drift.decile_edges(values, counts)
    got = drift.psi(drift.bin_counts(values, counts, edges), drift.bin_counts(*grouped(current), edges))
    assert got == pytest.approx(psi_by_definition(reference, current), abs=1e-12)


def test_identical_samples_have_no_drift():
    values, counts = grouped(np.arange(100.0))
    edges = drift.decile_edges(values, counts)
    bins = drift.bin_counts(values, counts, edges)
    assert drift.psi(bins, bins) == 0.0
    assert drift.ks_and_wasserstein(values, counts, values, counts) == (0.0, 0.0)


def test_bins_are_closed_on_the_right():
    edges = np.array([1.0, 2.0])
    assert drift.bin_counts(np.array([0.5, 1.0, 1.5, 2.0, 2.5]), np.array([1, 1, 1, 1, 1]), edges).tolist() == [2, 2, 1]


CATEGORICAL = {
    "shifted mix": ({"a": 500, "b": 300, "c": 200}, {"a": 300, "b": 300, "c": 350, "d": 50}),
    "a category gone": ({"a": 10, "b": 5, "c": 1}, {"a": 12, "b": 7}),
    "same mix": ({"x": 40, "y": 60}, {"x": 400, "y": 600}),
}


def aligned(name) -> tuple[list[int], list[int]]:
    ref, cur = CATEGORICAL[name]
    keys = sorted(set(ref) | set(cur))
    return [ref.get(k, 0) for k in keys], [cur.get(k, 0) for k in keys]


@pytest.mark.parametrize("name", CATEGORICAL)
def test_chi2_js_and_kl_equal_scipy(name):
    ref, cur = aligned(name)
    expected = stats.chi2_contingency(np.array([ref, cur]))
    statistic, pvalue = drift.chi2(ref, cur)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-6)
    assert drift.js_distance(ref, cur) == pytest.approx(distance.jensenshannon(ref, cur), rel=1e-12)
    clipped = np.clip(np.array(cur) / sum(cur), 0.0001, None), np.clip(np.array(ref) / sum(ref), 0.0001, None)
    assert drift.kl_divergence(cur, ref) == pytest.approx(stats.entropy(*clipped), rel=1e-12)


def test_categorical_psi_clips_a_category_one_sample_lacks():
    ref, cur = aligned("a category gone")  # c: 1 of 16 in the reference, none now
    terms = drift.psi_terms(ref, cur)
    assert terms[2] == pytest.approx((0.0001 - 1 / 16) * np.log(0.0001 / (1 / 16)))
    assert drift.psi(ref, cur) == pytest.approx(terms.sum())


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 40, 117, 120])
def test_rarefied_distinct_counts_equal_the_exact_expectation_and_the_sample_itself_at_full_size(rows):
    from math import comb

    counts = [50, 30, 20, 10, 5, 3, 1, 1, 0]  # 120 rows, 8 distinct values (and one not seen)
    exact = sum(1 - comb(120 - c, rows) / comb(120, rows) for c in counts)
    assert drift.rarefied_distinct(counts, rows) == pytest.approx(exact, rel=1e-9, abs=1e-12)
    assert drift.rarefied_distinct(counts, 120) == 8


def test_cardinality_growth_is_the_plain_ratio_at_equal_sizes_and_rarefies_the_larger_sample():
    assert drift.cardinality_growth([60, 60], [30, 30, 30, 30]) == pytest.approx(2)
    # 12 rows against 120: the reference is rarefied to 12 rows, which almost always show both its values.
    assert drift.cardinality_growth([60, 60], [3, 3, 3, 3]) == pytest.approx(4 / drift.rarefied_distinct([60, 60], 12))


def test_top_k_bins_keep_every_category_when_there_are_at_most_k():
    labels, index = drift.top_k_bins(["a", "b", "c"], [5, 0, 2], 3)
    assert labels == ["a", "b", "c"] and index.tolist() == [0, 1, 2]
    assert drift.merge_bins([5, 0, 2], index).tolist() == [5, 0, 2]


def test_top_k_bins_rank_by_reference_count_break_ties_by_name_and_pool_the_rest():
    categories = ["a", "b", "c", "d", "e", "f"]
    reference = [1, 9, 4, 4, 0, 4]  # c, d and f tie: c and d are kept, by name
    labels, index = drift.top_k_bins(categories, reference, 3)
    assert labels == ["b", "c", "d", "(other: 3 categories)"]
    assert index.tolist() == [3, 0, 1, 2, 3, 3]
    assert drift.merge_bins(reference, index).tolist() == [9, 4, 4, 5]
    assert drift.merge_bins([0, 1, 0, 0, 7, 2], index).tolist() == [1, 0, 0, 9]  # e, new now, counts in "other"
    # The order categories come in does not change which are kept.
    order = [5, 3, 1, 0, 4, 2]
    shuffled, _ = drift.top_k_bins([categories[i] for i in order], [reference[i] for i in order], 3)
    assert shuffled == ["d", "b", "c", "(other: 3 categories)"]
