"""Fitting model.type=tfidf_logreg with the custom loss (the model: models/tfidf.py).

LogisticRegression minimises a per-sample weighted log loss, so the length
weights of SentimentWeightedLoss go in as `sample_weight`. The confidence
penalty is a weight that depends on the model's own predictions (treated as a
constant, as the torch loss detaches it), so it is applied by refitting with
the weights the previous fit implies, `penalty_refits` times: a fixed-point
iteration whose end point is a stationary point of the same weighted objective.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from sklearn.pipeline import Pipeline

from sentiment_pipeline.config import Params
from sentiment_pipeline.evaluation.metrics import classification_metrics
from sentiment_pipeline.models.tfidf import build_pipeline, predict_proba
from sentiment_pipeline.paths import LABEL, N_WORDS, TEXT
from sentiment_pipeline.training.loss import SentimentWeightedLoss, build_loss


def _weighted_loss(
    loss_fn: SentimentWeightedLoss, prob_pos: np.ndarray, labels: np.ndarray, lengths: np.ndarray
) -> float:
    prob = np.clip(np.stack([1 - prob_pos, prob_pos], axis=1), 1e-12, 1.0)
    logits = torch.from_numpy(np.log(prob))  # softmax(log p) = p
    return float(loss_fn(logits, torch.from_numpy(labels).long(), torch.from_numpy(lengths)))


def fit(params: Params, train: Dataset) -> tuple[Pipeline, SentimentWeightedLoss]:
    """Fit TF-IDF + logistic regression on train's `text`, with the custom loss's weights."""
    texts = list(train[TEXT])
    labels = np.asarray(train[LABEL])
    lengths = np.asarray(train[N_WORDS], dtype=np.float64)
    loss_fn = build_loss(params.train.loss, torch.from_numpy(lengths), length_norm="dataset")
    length_weights = loss_fn.length_weights(torch.from_numpy(lengths)).double().numpy()
    model = build_pipeline(params)
    model.fit(texts, labels, logreg__sample_weight=length_weights)
    if loss_fn.confidence_penalty > 0:
        features = model.named_steps["tfidf"].transform(texts)  # the vocabulary is fixed after the first fit
        for _ in range(params.model.tfidf_logreg.penalty_refits):
            prob = model.named_steps["logreg"].predict_proba(features)
            logits = torch.from_numpy(np.log(np.clip(prob, 1e-12, 1.0)))
            penalty = loss_fn.confidence_factors(logits, torch.from_numpy(labels).long()).double().numpy()
            model.named_steps["logreg"].fit(features, labels, sample_weight=length_weights * penalty)
    return model, loss_fn


def train(params: Params, tokenized: DatasetDict) -> tuple[Pipeline, dict]:
    """Fit on train, score validation: (model, its one history row)."""
    start = time.perf_counter()
    model, loss_fn = fit(params, tokenized["train"])
    elapsed = time.perf_counter() - start
    train_ds, val_ds = tokenized["train"], tokenized["validation"]
    train_prob = predict_proba(model, train_ds[TEXT])
    val_prob = predict_proba(model, val_ds[TEXT])
    val_labels = np.asarray(val_ds[LABEL])
    scores = classification_metrics(val_labels, val_prob)
    row = {
        "epoch": 1,
        "step": 1,
        "train_loss": _weighted_loss(
            loss_fn, train_prob, np.asarray(train_ds[LABEL]), np.asarray(train_ds[N_WORDS], dtype=np.float64)
        ),
        "val_loss": _weighted_loss(loss_fn, val_prob, val_labels, np.asarray(val_ds[N_WORDS], dtype=np.float64)),
        **{f"val_{k}": v for k, v in scores.items() if v is not None},
        "epoch_time_s": round(elapsed, 3),
        "epoch_examples_per_s": round(len(train_ds) / max(elapsed, 1e-9), 3),
        "step_time_s": round(elapsed, 4),
    }
    return model, row
