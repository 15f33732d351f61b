"""The one prediction core: token ids in, log-odds out (P(positive) = sigmoid of them,
after temperature scaling: evaluation.calibration.probabilities).

Used by the evaluate stage (ids from data/tokenized) and the analyzer (ids from
the same encoder, data/encoding.py). Rows are run longest first, so each batch
pads to nearly its own length (and an out-of-memory error comes at the first
batch), dynamically padded, under `torch.inference_mode`; the results come
back in input order. tfidf_logreg reads text, not ids: `predict_texts`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from tqdm.auto import tqdm

from sentiment_pipeline.models.artifact import LoadedModel, load
from sentiment_pipeline.models.build import accepted_inputs
from sentiment_pipeline.paths import TEXT
from sentiment_pipeline.precision import Precision, autocast


def predict_ids(
    loaded: LoadedModel,
    encoded: Sequence[Sequence[int]],
    batch_size: int,
    device: str = "cpu",
    progress: bool | tqdm = False,
    dtype: str = "fp32",
) -> np.ndarray:
    """The log-odds margin (logit pos - logit neg) of each sequence of token ids
    (special tokens included), in input order. `progress`: a bar of its own, or a
    caller's tqdm to advance (one bar across several calls). `dtype`: fp32, or
    bf16/fp16 autocast (a resolved precision: training.precision.resolve_precision)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    inputs = accepted_inputs(model, list(tokenizer.model_input_names))
    order = np.argsort([-len(ids) for ids in encoded], kind="stable")
    margins = np.empty(len(encoded), dtype=np.float64)
    own_bar = not isinstance(progress, tqdm)
    bar = tqdm(total=len(encoded), desc="predict", unit="review", disable=not progress) if own_bar else progress
    try:
        with torch.inference_mode(), autocast(Precision(str(device), dtype)):
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                features = [{"input_ids": list(encoded[i]), "attention_mask": [1] * len(encoded[i])} for i in rows]
                batch = tokenizer.pad(features, return_tensors="pt")
                batch = {k: v.to(device) for k, v in batch.items() if k in inputs}
                logits = model(**batch).logits.float()
                margins[rows] = (logits[:, 1] - logits[:, 0]).cpu().numpy()
                bar.update(len(rows))
    finally:
        if own_bar:
            bar.close()
    return margins


def predict_texts(loaded: LoadedModel, texts: Sequence[str]) -> np.ndarray:
    """The log-odds margin per (cleaned) text, for tfidf_logreg."""
    from sentiment_pipeline.models import tfidf

    return tfidf.margins(loaded.model, list(texts))


def predict_dataset(
    loaded: LoadedModel, ds: Dataset, batch_size: int, device: str = "cpu", dtype: str = "fp32"
) -> tuple[np.ndarray, float]:
    """The log-odds margin of each row of a tokenized split, in row order, and the throughput in rows/s."""
    start = time.perf_counter()
    if loaded.is_network:
        loaded.model.to(device)
        margins = predict_ids(loaded, list(ds["input_ids"]), batch_size, device, progress=True, dtype=dtype)
    else:
        margins = predict_texts(loaded, ds[TEXT])
    return margins, len(ds) / max(time.perf_counter() - start, 1e-9)


def predict_folder(
    model_dir: Path, ds: Dataset, batch_size: int = 64, device: str = "cpu", dtype: str = "fp32"
) -> tuple[np.ndarray, float]:
    """`predict_dataset` with the model folder loaded first (margins, rows/s)."""
    return predict_dataset(load(model_dir), ds, batch_size, device, dtype)
