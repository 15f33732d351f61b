"""Calibration: does a confidence of 0.9 mean right 90% of the time?

Expected and maximum calibration error over equal-width confidence bins
(Guo et al. 2017, top-label form: the confidence is the probability of the
predicted class). scikit-learn has `calibration_curve` for P(positive) but no
ECE/MCE, so these few lines are written here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiment_pipeline.evaluation.metrics import predicted_and_confidence


def confidence_and_correct(labels: np.ndarray, prob_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predicted, confidence = predicted_and_confidence(prob_pos)
    return confidence, predicted == np.asarray(labels)


def reliability_table(labels: np.ndarray, prob_pos: np.ndarray, n_bins: int = 15) -> pd.DataFrame:
    """One row per bin (lower, upper]: count, accuracy and mean confidence
    (NaN for empty bins). The first bin also takes confidence 0."""
    confidence, correct = confidence_and_correct(labels, prob_pos)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        members = index == b
        count = int(members.sum())
        rows.append(
            {
                "bin": b,
                "lower": round(edges[b], 6),
                "upper": round(edges[b + 1], 6),
                "count": count,
                "accuracy": float(correct[members].mean()) if count else np.nan,
                "confidence": float(confidence[members].mean()) if count else np.nan,
            }
        )
    return pd.DataFrame(rows)


def calibration_errors(labels: np.ndarray, prob_pos: np.ndarray, n_bins: int = 15) -> tuple[float, float]:
    """(ECE, MCE): the count-weighted mean and the maximum over non-empty bins
    of |accuracy - mean confidence|."""
    table = reliability_table(labels, prob_pos, n_bins)
    filled = table[table["count"] > 0]
    if filled.empty:
        return float("nan"), float("nan")
    gaps = (filled["accuracy"] - filled["confidence"]).abs()
    # weights first, then the weighted sum: with one filled bin the weight is exactly 1,
    # so ECE equals MCE bit for bit (sum(gap * n) / n can round one ulp above it)
    weights = filled["count"] / filled["count"].sum()
    ece = float((gaps * weights).sum())
    return ece, float(gaps.max())
