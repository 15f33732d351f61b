"""Calibration: does a confidence of 0.9 mean right 90% of the time?

Expected and maximum calibration error over equal-width confidence bins
(Guo et al. 2017, top-label form: the confidence is the probability of the
predicted class). scikit-learn has `calibration_curve` for P(positive) but no
ECE/MCE, so these few lines are written here. So is temperature scaling (Guo
et al. 2017): one T > 0 that divides the log-odds, fitted by NLL on held-out
data (scipy's bounded scalar minimiser over log T); scikit-learn's
CalibratedClassifierCV wraps estimators, not a fine-tuned network's outputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit

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


def probabilities(margins: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """P(positive) from log-odds margins (logit_pos - logit_neg), divided by T first.
    Dividing by T > 0 keeps every margin's sign, so the predicted class (and the
    accuracy) cannot change: only the confidence does."""
    return expit(np.asarray(margins, dtype=np.float64) / temperature)


TEMPERATURE_RANGE = (0.05, 20.0)  # a separable validation set would push T to 0: bounded


def fit_temperature(margins: np.ndarray, labels: np.ndarray) -> float:
    """The T in TEMPERATURE_RANGE minimising the mean NLL of sigmoid(margin / T) on
    (margins, labels): a bounded Brent search over log T (one parameter, so no
    gradient method is needed), in float64."""
    z = np.asarray(margins, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if z.size == 0:
        raise ValueError("temperature scaling needs at least one example")

    def nll(log_t: float) -> float:
        scaled = z / np.exp(log_t)
        # -log sigmoid(s) for y = 1, -log(1 - sigmoid(s)) for y = 0, stably
        return float(np.mean(np.logaddexp(0.0, -scaled) * y + np.logaddexp(0.0, scaled) * (1 - y)))

    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])
    result = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))
