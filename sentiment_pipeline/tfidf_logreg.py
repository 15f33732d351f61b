"""model.type=tfidf_logreg: the classical baseline, TF-IDF + logistic regression.

scikit-learn does the work (TfidfVectorizer with word 1-2 grams and sublinear
tf, LogisticRegression with L2 strength 1/C). What is written here:

- the custom loss. LogisticRegression minimises a per-sample weighted log
  loss, so the length weights of SentimentWeightedLoss go in as
  `sample_weight`. The confidence penalty is a weight that depends on the
  model's own predictions (treated as a constant, as the torch loss detaches
  it), so it is applied by refitting with the weights the previous fit
  implies, `penalty_refits` times: a fixed-point iteration whose end point is
  a stationary point of the same weighted objective.
- saving without pickle, as plain arrays: the vocabulary as a JSON list of
  terms (index order), idf, coefficients and intercept as safetensors, the
  settings as JSON. (skops would also avoid pickle, but it writes the
  vocabulary dict entry by entry: 24-40 MB for a 2,000-review model, against
  about 1 MB here, and seconds to load.) Loading rebuilds the scikit-learn
  objects from those arrays; nothing in the folder can run code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from .batching import LENGTH_KEY
from .config import Params
from .errors import PipelineInputError
from .evaluation import classification_metrics
from .layout import TIMING_KEY
from .loss import SentimentWeightedLoss

VOCABULARY_FILE = "vocabulary.json"
WEIGHTS_FILE = "tfidf_logreg.safetensors"
SETTINGS_FILE = "tfidf_logreg.json"
MODEL_FILES = (VOCABULARY_FILE, WEIGHTS_FILE, SETTINGS_FILE)
VECTORIZER_SETTINGS = ("ngram_range", "sublinear_tf", "min_df", "max_features", "lowercase", "norm", "use_idf",
                       "smooth_idf", "analyzer", "token_pattern", "strip_accents")


def build_pipeline(params: Params) -> Pipeline:
    cfg = params.model.tfidf_logreg
    return Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=cfg.min_df,
                                  max_features=cfg.max_features, lowercase=True, dtype=np.float32)),
        ("logreg", LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, random_state=params.train.seed)),
    ])


def _loss_fn(params: Params, train_lengths: np.ndarray) -> SentimentWeightedLoss:
    loss = params.train.loss
    reference = SentimentWeightedLoss.reference_for(torch.from_numpy(train_lengths), loss.length_weight)
    # one fit sees the whole train set, so batch and dataset normalisation coincide
    return SentimentWeightedLoss(loss.length_weight, loss.confidence_penalty, "dataset", reference)


def _weighted_loss(loss_fn: SentimentWeightedLoss, prob_pos: np.ndarray, labels: np.ndarray,
                   lengths: np.ndarray) -> float:
    prob = np.clip(np.stack([1 - prob_pos, prob_pos], axis=1), 1e-12, 1.0)
    logits = torch.from_numpy(np.log(prob))  # softmax(log p) = p
    return float(loss_fn(logits, torch.from_numpy(labels).long(), torch.from_numpy(lengths)))


def fit(params: Params, train: Dataset) -> tuple[Pipeline, SentimentWeightedLoss]:
    """Fit TF-IDF + logistic regression on train's `text`, with the custom loss's weights."""
    texts = list(train["text"])
    labels = np.asarray(train["label"])
    lengths = np.asarray(train[LENGTH_KEY], dtype=np.float64)
    loss_fn = _loss_fn(params, lengths)
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


def predict_proba(model: Pipeline, texts: list[str]) -> np.ndarray:
    return model.predict_proba(list(texts))[:, 1]


def n_parameters(model: Pipeline) -> int:
    logreg = model.named_steps["logreg"]
    return int(logreg.coef_.size + logreg.intercept_.size)


def save(model: Pipeline, output_dir: Path) -> None:
    """The fitted pipeline as plain arrays and JSON (see the module docstring)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    vectorizer, logreg = model.named_steps["tfidf"], model.named_steps["logreg"]
    terms = [term for term, _ in sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])]
    (output_dir / VOCABULARY_FILE).write_text(json.dumps(terms, ensure_ascii=False))
    # each array in its own dtype (float32 features give float32 coefficients): loading gives the same model
    save_file({"idf": np.ascontiguousarray(vectorizer.idf_), "coef": np.ascontiguousarray(logreg.coef_),
               "intercept": np.ascontiguousarray(logreg.intercept_),
               "classes": np.asarray(logreg.classes_, dtype=np.int64)}, str(output_dir / WEIGHTS_FILE))
    settings = {"vectorizer": {k: vectorizer.get_params()[k] for k in VECTORIZER_SETTINGS},
                "logreg": {"C": logreg.C, "max_iter": logreg.max_iter}}
    settings["vectorizer"]["dtype"] = np.dtype(vectorizer.dtype).name
    (output_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")


def load(model_dir: Path) -> Pipeline:
    """The pipeline `save` wrote, rebuilt from its arrays."""
    model_dir = Path(model_dir)
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise PipelineInputError(f"{model_dir} is not a complete tfidf_logreg model folder "
                                 f"(missing {', '.join(missing)})")
    try:
        terms = json.loads((model_dir / VOCABULARY_FILE).read_text())
        settings = json.loads((model_dir / SETTINGS_FILE).read_text())
        arrays = load_file(str(model_dir / WEIGHTS_FILE))
        vector_settings = dict(settings["vectorizer"])
        vector_settings["ngram_range"] = tuple(vector_settings["ngram_range"])
        vector_settings["dtype"] = np.dtype(vector_settings["dtype"])
        vectorizer = TfidfVectorizer(**vector_settings)
        vectorizer.vocabulary_ = {term: i for i, term in enumerate(terms)}
        vectorizer.idf_ = arrays["idf"]  # scikit-learn's setter: checks it against the vocabulary
        logreg = LogisticRegression(**settings["logreg"])
        logreg.coef_, logreg.intercept_, logreg.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
        if logreg.coef_.shape != (1, len(terms)):
            raise ValueError(f"coef has shape {logreg.coef_.shape}, the vocabulary {len(terms)} terms")
    except (ValueError, KeyError, TypeError, OSError, json.JSONDecodeError) as err:
        raise PipelineInputError(f"{model_dir}: corrupted tfidf_logreg model ({err})") from None
    return Pipeline([("tfidf", vectorizer), ("logreg", logreg)])


def train(params: Params, tokenized: DatasetDict) -> tuple[Pipeline, dict, dict]:
    """Fit on train, score validation: (model, the one history row, metrics)."""
    start = time.perf_counter()
    model, loss_fn = fit(params, tokenized["train"])
    elapsed = time.perf_counter() - start
    train_ds, val_ds = tokenized["train"], tokenized["validation"]
    train_prob = predict_proba(model, train_ds["text"])
    val_prob = predict_proba(model, val_ds["text"])
    val_labels = np.asarray(val_ds["label"])
    scores = classification_metrics(val_labels, val_prob)
    row = {
        "epoch": 1,
        "step": 1,
        "train_loss": _weighted_loss(loss_fn, train_prob, np.asarray(train_ds["label"]),
                                     np.asarray(train_ds[LENGTH_KEY], dtype=np.float64)),
        "val_loss": _weighted_loss(loss_fn, val_prob, val_labels, np.asarray(val_ds[LENGTH_KEY], dtype=np.float64)),
        **{f"val_{k}": v for k, v in scores.items() if v is not None},
        "epoch_time_s": round(elapsed, 3),
        "epoch_examples_per_s": round(len(train_ds) / max(elapsed, 1e-9), 3),
        "step_time_s": round(elapsed, 4),
    }
    metrics = {
        "best_epoch": 1,
        **{k: v for k, v in row.items() if k.startswith("val_")},
        "train_loss": row["train_loss"],
        "epochs_run": 1,
        "n_train": len(train_ds),
        "n_validation": len(val_ds),
        "n_parameters": n_parameters(model),
        "vocabulary_size": len(model.named_steps["tfidf"].vocabulary_),
        "base_model": None,
        TIMING_KEY: {"train_runtime_s": round(elapsed, 2), "train_examples_per_s": row["epoch_examples_per_s"]},
    }
    return model, row, metrics

