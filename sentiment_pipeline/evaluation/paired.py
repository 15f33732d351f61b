"""Comparing two settings on the same test reviews: McNemar's test on the
per-review correctness, and a paired bootstrap interval for a metric's difference.

Two runs scored on the same reviews are not independent samples, so comparing
their mean accuracies with their spreads wastes most of the evidence: what
matters is on how many reviews one is right and the other wrong. With several
seeds per setting, each seed of setting B is paired with the same seed of A;
McNemar pools the discordant reviews over those pairs, and the bootstrap
resamples reviews (the same ones for every pair) and averages the per-pair
differences. scipy has the binomial test; neither procedure is in scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from sentiment_pipeline.evaluation.calibration import calibration_errors


@dataclass(frozen=True)
class McNemar:
    only_a: int  # reviews A got right and B wrong
    only_b: int  # reviews B got right and A wrong
    p_value: float  # exact two-sided binomial test of only_b vs only_a


def mcnemar(correct_a: Sequence[np.ndarray], correct_b: Sequence[np.ndarray]) -> McNemar:
    """McNemar's exact test, pooled over paired runs (same reviews, same order)."""
    only_a = sum(int(np.sum(a & ~b)) for a, b in zip(correct_a, correct_b, strict=True))
    only_b = sum(int(np.sum(b & ~a)) for a, b in zip(correct_a, correct_b, strict=True))
    n = only_a + only_b
    p_value = 1.0 if n == 0 else float(binomtest(only_b, n, 0.5).pvalue)
    return McNemar(only_a, only_b, p_value)


def accuracy(labels: np.ndarray, prob_pos: np.ndarray) -> float:
    return float(np.mean((prob_pos >= 0.5) == labels))


def ece(labels: np.ndarray, prob_pos: np.ndarray, n_bins: int = 15) -> float:
    return calibration_errors(labels, prob_pos, n_bins)[0]


@dataclass(frozen=True)
class Difference:
    mean: float  # metric(B) - metric(A), averaged over the paired runs
    low: float  # 95% paired bootstrap interval
    high: float


def paired_bootstrap(
    labels: np.ndarray,
    prob_a: Sequence[np.ndarray],
    prob_b: Sequence[np.ndarray],
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Difference:
    """metric(B) - metric(A) on the same reviews, with a percentile interval from
    resampling the reviews (one resample applied to every paired run)."""
    labels = np.asarray(labels)
    pairs = list(zip(prob_a, prob_b, strict=True))

    def diff(rows: np.ndarray) -> float:
        return float(np.mean([metric(labels[rows], b[rows]) - metric(labels[rows], a[rows]) for a, b in pairs]))

    rng = np.random.default_rng(seed)
    everything = np.arange(len(labels))
    samples = np.array([diff(rng.integers(0, len(labels), len(labels))) for _ in range(n_boot)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Difference(diff(everything), float(low), float(high))


def compare_predictions(a, b, n_boot: int = 2000) -> dict:
    """B against A on the same reviews: two predictions tables (reports/predictions.csv:
    label, prob_pos and, where written, prob_pos_scaled) -> accuracies, McNemar's exact
    test, and paired bootstrap intervals of the differences in accuracy and ECE."""
    labels = a["label"].to_numpy()
    if len(a) != len(b) or not (b["label"].to_numpy() == labels).all():
        raise ValueError("the two predictions tables do not score the same reviews in the same order")
    pa, pb = a["prob_pos"].to_numpy(), b["prob_pos"].to_numpy()
    test = mcnemar([(pa >= 0.5) == labels], [(pb >= 0.5) == labels])
    out = {
        "n": len(labels),
        "accuracy_a": accuracy(labels, pa),
        "accuracy_b": accuracy(labels, pb),
        "only_a_right": test.only_a,
        "only_b_right": test.only_b,
        "mcnemar_p": test.p_value,
    }
    columns = {"accuracy": ("prob_pos", accuracy), "ece": ("prob_pos", ece)}
    if "prob_pos_scaled" in a and "prob_pos_scaled" in b:
        columns["ece_scaled"] = ("prob_pos_scaled", ece)
    for name, (column, metric) in columns.items():
        d = paired_bootstrap(labels, [a[column].to_numpy()], [b[column].to_numpy()], metric, n_boot)
        out |= {f"d_{name}": d.mean, f"d_{name}_low": d.low, f"d_{name}_high": d.high}
    return out
