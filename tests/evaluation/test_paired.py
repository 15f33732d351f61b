"""Paired comparisons: McNemar's exact test and the paired bootstrap, on cases
whose answer is known."""

import numpy as np
import pytest

from sentiment_pipeline.evaluation.paired import accuracy, ece, mcnemar, paired_bootstrap


def test_mcnemar_counts_only_the_reviews_the_two_disagree_on():
    a = np.array([1, 1, 1, 0, 0, 1], dtype=bool)
    b = np.array([1, 0, 1, 1, 1, 1], dtype=bool)
    result = mcnemar([a], [b])
    assert (result.only_a, result.only_b) == (1, 2)
    assert result.p_value == pytest.approx(1.0)  # 2 vs 1 is no evidence
    # pooled over seeds: 30 reviews only B gets right, 5 only A, across two paired runs
    a1, b1 = np.zeros(40, dtype=bool), np.zeros(40, dtype=bool)
    b1[:20], a1[20:23] = True, True
    a2, b2 = np.zeros(40, dtype=bool), np.zeros(40, dtype=bool)
    b2[:10], a2[10:12] = True, True
    pooled = mcnemar([a1, a2], [b1, b2])
    assert (pooled.only_a, pooled.only_b) == (5, 30)
    assert pooled.p_value < 1e-4
    assert mcnemar([a1], [a1]).p_value == 1.0  # identical predictions


def test_paired_bootstrap_sees_a_small_but_consistent_gain_that_spreads_would_hide():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    base = np.where(labels == 1, rng.uniform(0.3, 1.0, 2000), rng.uniform(0.0, 0.7, 2000))
    better = base.copy()
    wrong = np.flatnonzero((base >= 0.5) != labels)[:40]  # B fixes 40 of A's errors, and nothing else
    better[wrong] = np.where(labels[wrong] == 1, 0.9, 0.1)
    diff = paired_bootstrap(labels, [base], [better], accuracy, n_boot=500)
    assert diff.mean == pytest.approx(40 / 2000)
    assert 0 < diff.low <= diff.mean <= diff.high  # the interval excludes zero
    same = paired_bootstrap(labels, [base], [base], accuracy, n_boot=200)
    assert same.mean == same.low == same.high == 0.0


def test_paired_bootstrap_of_ece_is_the_per_pair_difference_averaged():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500)
    a = [rng.uniform(0, 1, 500) for _ in range(3)]
    b = [np.clip(p + 0.05, 0, 1) for p in a]
    expected = np.mean([ece(labels, pb) - ece(labels, pa) for pa, pb in zip(a, b)])
    assert paired_bootstrap(labels, a, b, ece, n_boot=50).mean == pytest.approx(expected)
