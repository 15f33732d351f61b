"""Batch prediction with a model folder the train stage wrote (any model.type)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from . import bilstm  # noqa: F401  (registers the bilstm type with the Auto classes)
from . import tfidf_logreg
from .batching import PaddingCollatorWithLengths, restore_order, sort_by_length
from .errors import PipelineInputError
from .evaluation import softmax
from .modeling import accepted_inputs

PIPELINE_CONFIG = "sentiment_pipeline.json"  # how inputs were prepared, saved beside the model


def read_pipeline_config(model_dir: str | Path) -> dict:
    """The saved `sentiment_pipeline.json` of a model folder (which model.type,
    how its text was cleaned and truncated)."""
    path = Path(model_dir) / PIPELINE_CONFIG
    if not path.is_file():
        raise PipelineInputError(f"{model_dir} is not a model folder of this pipeline (no {PIPELINE_CONFIG}): "
                                 "run the train stage first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PipelineInputError(f"{path} is not valid JSON: {err}") from None


def predict_proba(model_dir: str | Path, ds: Dataset, batch_size: int = 64) -> tuple[np.ndarray, float]:
    """P(positive) for each row of a tokenized dataset, in row order, and the
    throughput in examples/s.

    Networks: Trainer.predict (device placement, batching) on the rows sorted
    by length, longest first, so each batch pads to nearly its own length; the
    outputs are put back in the original order. tfidf_logreg: the fitted
    scikit-learn pipeline on the `text` column.
    """
    model_dir = Path(model_dir)
    if read_pipeline_config(model_dir).get("model_type") == "tfidf_logreg":
        model = tfidf_logreg.load(model_dir)
        start = time.perf_counter()
        prob_pos = tfidf_logreg.predict_proba(model, ds["text"])
        return prob_pos, len(ds) / max(time.perf_counter() - start, 1e-9)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    keep = accepted_inputs(model, [c for c in ("input_ids", "attention_mask", "token_type_ids")
                                   if c in ds.column_names])
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
