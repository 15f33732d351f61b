"""Classification metrics from predicted probabilities (scikit-learn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from sentiment_pipeline.paths import LABEL, N_TOKENS, N_WORDS, ROW, TRUNCATED


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def predicted_and_confidence(prob_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The predicted class (1 when P(positive) >= 0.5) and its probability."""
    prob_pos = np.asarray(prob_pos, dtype=np.float64)
    predicted = (prob_pos >= 0.5).astype(int)
    return predicted, np.where(predicted == 1, prob_pos, 1.0 - prob_pos)


def classification_metrics(labels: np.ndarray, prob_pos: np.ndarray) -> dict[str, float | None]:
    """accuracy, precision, recall, F1 (positive class), ROC-AUC and log loss.

    ROC-AUC is None when `labels` holds a single class (it is undefined there).
    """
    labels = np.asarray(labels)
    prob_pos = np.asarray(prob_pos, dtype=np.float64)
    predicted, _ = predicted_and_confidence(prob_pos)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(labels, predicted, average="binary", zero_division=0)
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float(skm.roc_auc_score(labels, prob_pos)) if both_classes else None,
        "log_loss": float(skm.log_loss(labels, prob_pos, labels=[0, 1])),
    }


def roc_table(labels: np.ndarray, prob_pos: np.ndarray) -> pd.DataFrame:
    """The ROC curve as a table (fpr, tpr, threshold) for DVC plots and figures."""
    fpr, tpr, thresholds = skm.roc_curve(labels, prob_pos)
    thresholds = np.minimum(thresholds, 1.0)  # sklearn puts +inf first
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thresholds}).round(6)


def predictions_table(
    labels: np.ndarray,
    prob_pos: np.ndarray,
    n_words: np.ndarray,
    n_tokens: np.ndarray,
    truncated: np.ndarray,
    prob_scaled: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per test review: its row in data.source's test split (`rows`; by
    default its position here), truth, prediction, scores (before and after
    temperature scaling, which changes no prediction) and length."""
    prob_pos = np.asarray(prob_pos, dtype=np.float64)
    predicted, confidence = predicted_and_confidence(prob_pos)
    scaled = prob_pos if prob_scaled is None else np.asarray(prob_scaled, dtype=np.float64)
    return pd.DataFrame(
        {
            ROW: np.arange(len(labels)) if rows is None else np.asarray(rows),
            LABEL: labels,
            "predicted": predicted,
            "prob_pos": prob_pos.round(6),
            "prob_pos_scaled": scaled.round(6),
            "confidence": confidence.round(6),
            N_WORDS: n_words,
            N_TOKENS: n_tokens,
            TRUNCATED: np.asarray(truncated, dtype=bool),
        }
    )
