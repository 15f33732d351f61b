"""The TF-IDF + logistic regression kind: fitted by scikit-learn with the custom
loss, read from text (the vectorizer is part of the model; its arrays: models/tfidf.py).

LogisticRegression minimises a per-sample weighted log loss, so the length
weights of SentimentWeightedLoss go in as `sample_weight`. The confidence
penalty is a weight that depends on the model's own predictions (treated as a
constant, as the torch loss detaches it), so it is applied by refitting with
the weights the previous fit implies, `penalty_refits` times: a fixed-point
iteration whose end point is a stationary point of the same weighted objective.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from datasets.fingerprint import Hasher
from sklearn.pipeline import Pipeline

from sentiment_pipeline.config import Params
from sentiment_pipeline.evaluation.metrics import classification_metrics
from sentiment_pipeline.models import tfidf
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.models.kinds import LoadedModel, ModelKind
from sentiment_pipeline.paths import LABEL, LENGTH, N_TOKENS, N_WORDS, SPLITS, TEXT, TRUNCATED


class TfidfKind(ModelKind):
    """One scikit-learn fit (seconds to a minute): no epochs, no checkpoints, no tokenizer."""

    uses_trainer = False

    def tokenize(self, params: Params, clean: DatasetDict) -> tuple[DatasetDict, Any]:
        return DatasetDict({s: count_words(clean[s]) for s in SPLITS}), None

    def fit(self, params: Params, tokenized: DatasetDict, loss_fn: Any) -> tuple[Pipeline, dict]:
        return train(params, tokenized, loss_fn)

    def save(self, model: Pipeline, folder: Path) -> dict:
        tfidf.save(model, folder)
        return {"vocabulary_size": len(model.named_steps["tfidf"].vocabulary_)}

    def n_parameters(self, model: Pipeline) -> int:
        return tfidf.n_parameters(model)

    def load(self, model_dir: Path, artifact: ModelArtifact) -> LoadedModel:
        return LoadedModel(artifact, tfidf.load(model_dir))

    def margins(
        self, loaded: LoadedModel, texts: Sequence[str], batch_size: int, device: str, dtype: str, progress: Any
    ) -> np.ndarray:
        return tfidf.margins(loaded.model, list(texts))

    def dataset_margins(self, loaded: LoadedModel, ds: Dataset, batch_size: int, device: str, dtype: str) -> np.ndarray:
        return tfidf.margins(loaded.model, ds[TEXT])


def count_words(ds: Dataset) -> Dataset:
    """TF-IDF's "tokenization": the text stays (the vectorizer is part of
    the model), with the same length columns the other types get, in words;
    nothing is truncated."""

    def lengths(batch: dict) -> dict:
        n_words = [len(text.split()) for text in batch[TEXT]]
        return {N_WORDS: n_words, N_TOKENS: n_words, LENGTH: n_words, TRUNCATED: [False] * len(n_words)}

    return ds.map(lengths, batched=True, desc="count words", new_fingerprint=Hasher.hash([ds._fingerprint, "words"]))


def _weighted_loss(loss_fn: Any, prob_pos: np.ndarray, labels: np.ndarray, lengths: np.ndarray) -> float:
    prob = np.clip(np.stack([1 - prob_pos, prob_pos], axis=1), 1e-12, 1.0)
    logits = torch.from_numpy(np.log(prob))  # softmax(log p) = p
    return float(loss_fn(logits, torch.from_numpy(labels).long(), torch.from_numpy(lengths)))


def fit(params: Params, train: Dataset, loss_fn: Any) -> Pipeline:
    """Fit TF-IDF + logistic regression on train's `text`, with the weights of `loss_fn`
    (training's SentimentWeightedLoss, normalised over the dataset)."""
    texts = list(train[TEXT])
    labels = np.asarray(train[LABEL])
    lengths = np.asarray(train[N_WORDS], dtype=np.float64)
    length_weights = loss_fn.length_weights(torch.from_numpy(lengths)).double().numpy()
    model = tfidf.build_pipeline(params)
    model.fit(texts, labels, logreg__sample_weight=length_weights)
    if loss_fn.confidence_penalty > 0:
        features = model.named_steps["tfidf"].transform(texts)  # the vocabulary is fixed after the first fit
        for _ in range(params.model.tfidf_logreg.penalty_refits):
            prob = model.named_steps["logreg"].predict_proba(features)
            logits = torch.from_numpy(np.log(np.clip(prob, 1e-12, 1.0)))
            penalty = loss_fn.confidence_factors(logits, torch.from_numpy(labels).long()).double().numpy()
            model.named_steps["logreg"].fit(features, labels, sample_weight=length_weights * penalty)
    return model


def train(params: Params, tokenized: DatasetDict, loss_fn: Any) -> tuple[Pipeline, dict]:
    """Fit on train, score validation: (model, its one history row)."""
    start = time.perf_counter()
    model = fit(params, tokenized["train"], loss_fn)
    elapsed = time.perf_counter() - start
    train_ds, val_ds = tokenized["train"], tokenized["validation"]
    train_prob = tfidf.predict_proba(model, train_ds[TEXT])
    val_prob = tfidf.predict_proba(model, val_ds[TEXT])
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
