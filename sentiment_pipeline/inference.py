"""Batch prediction with a model folder the train stage wrote."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from .batching import PaddingCollatorWithLengths, restore_order, sort_by_length
from .evaluation import softmax


def predict_proba(model_dir: str | Path, ds: Dataset, batch_size: int = 64) -> tuple[np.ndarray, float]:
    """P(positive) for each row of a tokenized dataset, in row order, and the
    throughput in examples/s. Uses Trainer.predict (device placement, batching)
    on the rows sorted by length, longest first, so each batch pads to nearly
    its own length; the outputs are put back in the original order."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a model folder (no config.json): run the train stage first")
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    keep = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in ds.column_names]
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(output_dir=scratch, per_device_eval_batch_size=batch_size,
                                 report_to="none", remove_unused_columns=False)
        trainer = Trainer(model=model, args=args, data_collator=PaddingCollatorWithLengths(tokenizer))
        start = time.perf_counter()
        ordered, order = sort_by_length(ds)
        logits = trainer.predict(ordered.select_columns(keep)).predictions
        elapsed = time.perf_counter() - start
    if isinstance(logits, tuple):
        logits = logits[0]
    return restore_order(softmax(logits)[:, 1], order), len(ds) / max(elapsed, 1e-9)
