"""Batches with little padding: dynamic padding, length-sorted prediction order."""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

from sentiment_pipeline.paths import LABEL, LENGTH, N_WORDS


class PaddingCollatorWithLengths:
    """DataCollatorWithPadding for the model inputs and the label, plus the
    ``n_words`` column as a tensor. Other columns (n_tokens, length, ...) are
    dropped here, because the model's forward would reject them; the HF
    collator alone cannot keep one extra column and drop the rest.

    Pads each batch to its own longest sequence; `pad_to` pads every batch to
    that fixed length instead (the naive baseline the benchmark compares with).
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, pad_to: int | None = None) -> None:
        self.pad = (
            DataCollatorWithPadding(tokenizer, padding="max_length", max_length=pad_to)
            if pad_to
            else DataCollatorWithPadding(tokenizer)
        )
        self.keys = set(tokenizer.model_input_names) | {LABEL, "labels"}

    def __call__(self, features: list[dict]) -> dict:
        batch = self.pad([{k: v for k, v in f.items() if k in self.keys} for f in features])
        if N_WORDS in features[0]:
            batch[N_WORDS] = torch.tensor([f[N_WORDS] for f in features])
        return batch


def token_lengths(ds: Dataset) -> np.ndarray:
    if LENGTH in ds.column_names:
        return np.asarray(ds.with_format("numpy")[LENGTH])
    return np.fromiter((len(ids) for ids in ds["input_ids"]), dtype=np.int64, count=len(ds))


def sort_by_length(ds: Dataset) -> tuple[Dataset, np.ndarray]:
    """`ds` longest first (consecutive rows pad to nearly the same length, and an
    out-of-memory error comes at the first batch), and `order`, the original row
    of each sorted row: ``restored[order] = sorted_outputs`` puts outputs back."""
    order = np.argsort(-token_lengths(ds), kind="stable")
    return ds.select(order), order


def restore_order(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    restored = np.empty_like(values)
    restored[order] = values
    return restored
