"""The full test-set report of the evaluate stage: every metric, by class, by
review length, calibration, and the curves behind the plots.

Built on scikit-learn's metrics; only ECE/MCE are computed by hand (calibration.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from sentiment_pipeline.evaluation.calibration import calibration_errors, confidence_and_correct
from sentiment_pipeline.evaluation.metrics import classification_metrics, predicted_and_confidence
from sentiment_pipeline.paths import LABEL_NAMES


def per_class_metrics(labels: np.ndarray, prob_pos: np.ndarray) -> dict[str, float]:
    predicted, _ = predicted_and_confidence(prob_pos)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        labels, predicted, labels=[0, 1], average=None, zero_division=0
    )
    out: dict[str, float] = {}
    for i, name in enumerate(LABEL_NAMES):
        out.update(
            {
                f"precision_{name}": float(precision[i]),
                f"recall_{name}": float(recall[i]),
                f"f1_{name}": float(f1[i]),
                f"support_{name}": int(support[i]),
            }
        )
    macro = skm.precision_recall_fscore_support(labels, predicted, labels=[0, 1], average="macro", zero_division=0)
    out.update(precision_macro=float(macro[0]), recall_macro=float(macro[1]), f1_macro=float(macro[2]))
    return out


def length_buckets(n_tokens: np.ndarray, n_buckets: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Token-length quantile buckets (quartiles for 4): the bucket of each review
    (0 = shortest) and the edges (n_buckets + 1 values, min to max)."""
    n_tokens = np.asarray(n_tokens)
    edges = np.quantile(n_tokens, np.linspace(0, 1, n_buckets + 1))
    # right-closed inner edges: a review of exactly the median length is in the lower half
    bucket = np.clip(np.searchsorted(edges[1:-1], n_tokens, side="left"), 0, n_buckets - 1)
    return bucket, edges


def length_bucket_table(
    labels: np.ndarray, prob_pos: np.ndarray, n_tokens: np.ndarray, n_bins: int = 15, n_buckets: int = 4
) -> pd.DataFrame:
    """Accuracy and ECE per token-length bucket, with each bucket's token range."""
    bucket, edges = length_buckets(n_tokens, n_buckets)
    _, correct = confidence_and_correct(labels, prob_pos)
    labels, prob_pos = np.asarray(labels), np.asarray(prob_pos)
    rows = []
    for b in range(n_buckets):
        members = bucket == b
        ece, _ = calibration_errors(labels[members], prob_pos[members], n_bins) if members.any() else (np.nan, np.nan)
        rows.append(
            {
                "bucket": f"q{b + 1}",
                "tokens_from": int(np.floor(edges[b])) if b == 0 else int(np.floor(edges[b])) + 1,
                "tokens_to": int(np.floor(edges[b + 1])),
                "n": int(members.sum()),
                "accuracy": float(correct[members].mean()) if members.any() else np.nan,
                "ece": ece,
            }
        )
    return pd.DataFrame(rows)


def pr_table(labels: np.ndarray, prob_pos: np.ndarray) -> pd.DataFrame:
    """The precision-recall curve (positive class) for DVC plots and figures.

    Points that do not change the plotted curve are dropped (scikit-learn's
    drop_intermediate): with every threshold kept, 25k test reviews made this
    git-tracked file 24,770 rows (650 KB)."""
    precision, recall, thresholds = skm.precision_recall_curve(labels, prob_pos, drop_intermediate=True)
    thresholds = np.append(thresholds, 1.0)  # sklearn gives one threshold fewer than points
    return pd.DataFrame({"recall": recall, "precision": precision, "threshold": thresholds}).round(6)


def scaled_calibration_metrics(
    labels: np.ndarray, prob_scaled: np.ndarray, temperature: float, n_bins: int = 15
) -> dict:
    """The calibration scores after temperature scaling (`*_scaled`), beside the
    temperature itself; accuracy and the ranking metrics do not change with T."""
    labels = np.asarray(labels)
    ece, mce = calibration_errors(labels, prob_scaled, n_bins)
    return {
        "temperature": temperature,
        "ece_scaled": ece,
        "mce_scaled": mce,
        "log_loss_scaled": float(skm.log_loss(labels, np.asarray(prob_scaled, dtype=np.float64), labels=[0, 1])),
        "brier_scaled": float(skm.brier_score_loss(labels, prob_scaled, pos_label=1)),
    }


# metrics/eval.json, what `dvc exp show` and `dvc metrics diff` compare runs by; the rest of
# evaluation_metrics() goes to reports/evaluation.json (and every number of both to MLflow)
HEADLINE_METRICS = (
    "accuracy",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
    "ece",
    "ece_scaled",
    "log_loss_scaled",
    "temperature",
    "n_examples",
)


def headline(metrics: dict) -> dict:
    """The HEADLINE_METRICS of a full evaluation dict, in that order."""
    return {k: metrics[k] for k in HEADLINE_METRICS if k in metrics}


def evaluation_metrics(
    labels: np.ndarray, prob_pos: np.ndarray, n_tokens: np.ndarray, truncated: np.ndarray, n_bins: int = 15
) -> dict:
    """Every test metric (reports/evaluation.json): scalars at the top, the
    by-length breakdown nested under ``by_length``; headline() picks metrics/eval.json's."""
    labels = np.asarray(labels)
    prob_pos = np.asarray(prob_pos, dtype=np.float64)
    ece, mce = calibration_errors(labels, prob_pos, n_bins)
    metrics = {
        **classification_metrics(labels, prob_pos),
        "pr_auc": float(skm.average_precision_score(labels, prob_pos)) if len(np.unique(labels)) == 2 else None,
        "brier": float(skm.brier_score_loss(labels, prob_pos, pos_label=1)),
        "ece": ece,
        "mce": mce,
        **per_class_metrics(labels, prob_pos),
        "truncated_share": float(np.mean(np.asarray(truncated, dtype=bool))),
    }
    buckets = length_bucket_table(labels, prob_pos, n_tokens, n_bins)
    metrics["by_length"] = {
        row["bucket"]: {k: row[k] for k in ("tokens_from", "tokens_to", "n", "accuracy", "ece")}
        for row in buckets.to_dict(orient="records")
    }
    return metrics
