"""Sentiment model figures from confusion counts, against independent definitions written out here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from dashapp.sentiment.metrics import calibration, classification, two_proportions, wilson

RNG = np.random.default_rng(21)
N = 5000
LABELS = np.array(["negative", "neutral", "positive"])


@pytest.fixture(scope="module")
def sample():
    truth = RNG.choice(LABELS, N, p=[0.3, 0.3, 0.4])
    right = RNG.random(N) < 0.7
    predicted = np.where(right, truth, RNG.choice(np.append(LABELS, "unsure"), N))  # a label never true
    confidence = np.clip(RNG.beta(5, 2, N), 0, 1)
    confidence[:3] = [0.0, 1.0, 0.95]
    return truth, predicted, confidence


def counts_of(truth, predicted, confidence) -> pd.DataFrame:
    frame = pd.DataFrame({"true_label": truth, "label": predicted, "confidence": confidence})
    frame["confidence_bin"] = np.minimum(np.floor(frame["confidence"] * 10), 9).astype(int)
    frame["correct"] = (frame["true_label"] == frame["label"]).astype(int)
    return (
        frame.groupby(["label", "true_label", "confidence_bin"])
        .agg(n=("confidence", "size"), confidence_sum=("confidence", "sum"), correct=("correct", "sum"))
        .reset_index()
    )


def test_accuracy_and_macro_f1_follow_scikit_learns_definitions(sample):
    truth, predicted, confidence = sample
    got = classification(counts_of(truth, predicted, confidence))
    assert got["accuracy"] == pytest.approx(np.mean(truth == predicted), abs=1e-12)
    labels = sorted(set(truth) | set(predicted))
    f1s = []
    for label in labels:
        tp = np.sum((predicted == label) & (truth == label))
        precision = tp / np.sum(predicted == label) if np.sum(predicted == label) else 0.0
        recall = tp / np.sum(truth == label) if np.sum(truth == label) else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert got["precision"][label] == pytest.approx(precision, abs=1e-12)
        assert got["recall"][label] == pytest.approx(recall, abs=1e-12)
        f1s.append(f1)
    assert got["labels"] == labels and got["recall"]["unsure"] == 0.0  # never true: recall 0, as sklearn
    assert got["macro_f1"] == pytest.approx(np.mean(f1s), abs=1e-12)
    assert got["confusion"].to_numpy().sum() == N


def test_expected_calibration_error_over_confidence_deciles(sample):
    truth, predicted, confidence = sample
    bins, ece = calibration(counts_of(truth, predicted, confidence))
    index = np.minimum(np.floor(confidence * 10), 9).astype(int)
    want = 0.0
    for b in np.unique(index):
        members = index == b
        want += members.sum() / N * abs(np.mean(truth[members] == predicted[members]) - confidence[members].mean())
    assert ece == pytest.approx(want, abs=1e-12)
    assert bins["n"].sum() == N and bins["confidence_bin"].max() == 9


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (7, 10), (10, 10), (611, 1000), (85_012, 100_000)])
def test_wilson_interval_equals_statsmodels(successes, n):
    low, high = wilson(successes, n)
    want = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert (low, high) == pytest.approx(want, abs=1e-12)
    assert wilson(0, 0) is None


def test_two_proportion_test_equals_statsmodels_pooled_z_test():
    z, p = two_proportions(6100, 10_000, 76_500, 90_000)
    want_z, want_p = proportions_ztest([6100, 76_500], [10_000, 90_000])
    assert (z, p) == pytest.approx((want_z, want_p), rel=1e-9)
    assert two_proportions(5, 5, 7, 7) is None  # both always right: no spread, no test
    assert two_proportions(1, 0, 1, 2) is None


def test_grouped_figures_equal_classification_of_each_group(sample):
    from dashapp.sentiment.metrics import classification_by

    truth, predicted, confidence = sample
    counts = counts_of(truth, predicted, confidence)
    counts["day"] = counts["confidence_bin"] % 3  # three groups with different label sets
    counts.loc[(counts["day"] == 2) & (counts["label"] == "unsure"), "n"] = 0
    grouped = classification_by(counts, ["day"]).set_index("day")
    for day, part in counts.groupby("day"):
        want = classification(part)
        assert grouped.loc[day, "n"] == want["n"] and grouped.loc[day, "correct"] == want["correct"]
        assert grouped.loc[day, "accuracy"] == pytest.approx(want["accuracy"], abs=1e-12)
        assert grouped.loc[day, "macro_f1"] == pytest.approx(want["macro_f1"], abs=1e-12)


def row_bootstrap(truth, predicted, resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    """The textbook bootstrap: resample the predictions themselves, score each resample as sklearn does."""
    rng = np.random.default_rng(seed)
    labels = sorted(set(truth) | set(predicted))
    scores = {"macro_f1": [], "precision": [], "recall": []}
    for _ in range(resamples):
        pick = rng.integers(0, len(truth), len(truth))
        t, p = truth[pick], predicted[pick]
        precisions, recalls, f1s = [], [], []
        for label in labels:
            tp = np.sum((p == label) & (t == label))
            precision = tp / np.sum(p == label) if np.sum(p == label) else 0.0
            recall = tp / np.sum(t == label) if np.sum(t == label) else 0.0
            precisions.append(precision)
            recalls.append(recall)
            f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        scores["macro_f1"].append(np.mean(f1s))
        scores["precision"].append(np.mean(precisions))
        scores["recall"].append(np.mean(recalls))
    return {name: tuple(np.quantile(values, [0.025, 0.975])) for name, values in scores.items()}


def test_macro_intervals_match_a_bootstrap_over_the_predictions_themselves(sample):
    from dashapp.sentiment.metrics import macro_intervals

    truth, predicted, confidence = sample
    point = classification(counts_of(truth, predicted, confidence))
    got = macro_intervals(point["confusion"])
    want = row_bootstrap(truth, predicted, resamples=1000, seed=3)
    for name, estimate in (
        ("macro_f1", point["macro_f1"]),
        ("precision", np.mean(list(point["precision"].values()))),
        ("recall", np.mean(list(point["recall"].values()))),
    ):
        low, high = got[name]
        assert low < estimate < high
        # Two bootstraps with their own random draws: equal up to Monte Carlo error (interval ~0.025 wide).
        assert (low, high) == pytest.approx(want[name], abs=0.004)
    assert macro_intervals(point["confusion"]) == got  # a fixed seed: the same counts, the same interval
    assert macro_intervals(point["confusion"] * 0) is None


def test_a_label_missing_from_a_resample_scores_zero_as_in_classification():
    from dashapp.sentiment.metrics import macro_intervals

    confusion = pd.DataFrame([[50, 0], [1, 0]], index=["neg", "pos"], columns=["neg", "pos"])  # pos never predicted
    low, high = macro_intervals(confusion, resamples=500)["precision"]
    assert high <= 0.5  # the never-predicted label's precision is 0 in every resample, not NaN
    assert low > 0.45
