"""Fine-tuning with the Hugging Face Trainer and SentimentWeightedLoss.

The Trainer does the loop: AdamW, linear warmup/decay, device placement (CUDA,
MPS or CPU), tqdm bars, per-epoch validation and keeping the best checkpoint by
validation F1. This module adds the custom loss (via `compute_loss`), a per-epoch
history, and the files the later stages read.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from datasets import DatasetDict
from transformers import EvalPrediction, Trainer, TrainerCallback, TrainingArguments, set_seed

from .batching import LENGTH_KEY, PaddingCollatorWithLengths
from .config import Params
from .evaluation import classification_metrics, softmax
from .loss import SentimentWeightedLoss
from .modeling import build_classifier, count_parameters
from .tokenization import load_tokenizer

PIPELINE_CONFIG = "sentiment_pipeline.json"  # how inputs were prepared, saved beside the model
BEST_METRIC = "f1"


class WeightedLossTrainer(Trainer):
    """Trainer whose loss is SentimentWeightedLoss over (logits, labels, n_words)."""

    # our loss is a per-batch mean, so the Trainer must divide it for gradient accumulation
    loss_is_scaled_for_ga = False

    def __init__(self, *args, loss_fn: SentimentWeightedLoss, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)  # the Trainer reads labels from the original afterwards
        labels = inputs.pop("labels")
        lengths = inputs.pop(LENGTH_KEY, None)
        outputs = model(**inputs)
        loss = self.loss_fn(outputs.logits, labels, lengths)
        return (loss, outputs) if return_outputs else loss


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    scores = classification_metrics(prediction.label_ids, softmax(logits)[:, 1])
    return {k: v for k, v in scores.items() if v is not None}


class HistoryCallback(TrainerCallback):
    """Collects per-step training loss and one row per epoch (train loss, validation
    metrics, epoch time, throughput), and hands each row to `listeners` as it comes."""

    def __init__(self, n_train: int, listeners: list[Callable[[str, dict], None]] | None = None) -> None:
        self.n_train = n_train
        self.listeners = listeners or []
        self.steps: list[dict] = []
        self.epochs: list[dict] = []
        self._epoch_start = 0.0
        self._epoch_time = 0.0
        self._epoch_step0 = 0

    def _emit(self, kind: str, row: dict) -> None:
        for listener in self.listeners:
            listener(kind, row)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_start = time.perf_counter()
        self._epoch_step0 = state.global_step

    def on_epoch_end(self, args, state, control, **kwargs):
        self._epoch_time = time.perf_counter() - self._epoch_start

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            row = {"step": state.global_step, "epoch": round(state.epoch or 0, 4), "loss": logs["loss"],
                   "learning_rate": logs.get("learning_rate")}
            self.steps.append(row)
            self._emit("step", row)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics = metrics or {}
        epoch = len(self.epochs) + 1
        in_epoch = [s for s in self.steps if s["step"] > self._epoch_step0]
        steps_in_epoch = max(state.global_step - self._epoch_step0, 1)
        row = {
            "epoch": epoch,
            "step": state.global_step,
            "train_loss": float(np.mean([s["loss"] for s in in_epoch])) if in_epoch else None,
            **{f"val_{k[len('eval_'):]}": v for k, v in metrics.items()
               if k.startswith("eval_") and k not in ("eval_runtime", "eval_samples_per_second",
                                                      "eval_steps_per_second", "eval_epoch")},
            "epoch_time_s": round(self._epoch_time, 3),
            "epoch_examples_per_s": round(
                min(self.n_train, steps_in_epoch * args.per_device_train_batch_size * args.world_size)
                / max(self._epoch_time, 1e-9), 3),
            "step_time_s": round(self._epoch_time / steps_in_epoch, 4),
        }
        self.epochs.append(row)
        self._emit("epoch", row)


@dataclass
class TrainResult:
    metrics: dict
    epochs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    device: str = "cpu"


TRAIN_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "label", LENGTH_KEY, "length")


def _training_arguments(params: Params, checkpoint_dir: Path) -> TrainingArguments:
    t = params.train
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        learning_rate=t.lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,  # a float in [0, 1) is a share of all steps in transformers 5
        lr_scheduler_type="linear",
        optim="adamw_torch",
        seed=t.seed,
        data_seed=t.seed,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,  # with load_best_model_at_end the best checkpoint is kept as well
        save_only_model=True,
        load_best_model_at_end=True,
        metric_for_best_model=BEST_METRIC,
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        remove_unused_columns=False,  # n_words must reach compute_loss
        use_cpu=t.device == "cpu",
        report_to="none",  # MLflow logging is ours (tracking.py): stable names, one run per pipeline run
    )


def train(
    params: Params,
    tokenized: DatasetDict,
    output_dir: Path,
    checkpoint_dir: Path,
    listeners: list[Callable[[str, dict], None]] | None = None,
) -> TrainResult:
    """Fine-tune `params.model.name` on tokenized train, pick the best epoch by
    validation F1, save it (safetensors + tokenizer + pipeline config) to `output_dir`."""
    for split in ("train", "validation"):
        if split not in tokenized:
            raise ValueError(f"tokenized data has no {split!r} split (found {list(tokenized)})")
    columns = [c for c in TRAIN_COLUMNS if c in tokenized["train"].column_names]
    train_ds = tokenized["train"].select_columns(columns)
    val_ds = tokenized["validation"].select_columns(columns)

    set_seed(params.train.seed)  # the new classification head is initialised from this seed
    tokenizer = load_tokenizer(params.model.name)
    model = build_classifier(params.model.name)
    loss_cfg = params.train.loss
    reference = None
    if loss_cfg.length_norm == "dataset":
        lengths = torch.from_numpy(train_ds.with_format("numpy")[LENGTH_KEY])
        reference = SentimentWeightedLoss.reference_for(lengths, loss_cfg.length_weight)
    loss_fn = SentimentWeightedLoss(loss_cfg.length_weight, loss_cfg.confidence_penalty,
                                    loss_cfg.length_norm, reference)

    history = HistoryCallback(len(train_ds), listeners)
    trainer = WeightedLossTrainer(
        model=model,
        args=_training_arguments(params, checkpoint_dir),
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=PaddingCollatorWithLengths(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=[history],
        loss_fn=loss_fn,
    )
    outcome = trainer.train()
    trainer.save_model(str(output_dir))
    # the Trainer also pickles its TrainingArguments there; the model folder stays pickle-free
    (Path(output_dir) / "training_args.bin").unlink(missing_ok=True)
    save_pipeline_config(params, output_dir)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)

    best = max(history.epochs, key=lambda row: row.get(f"val_{BEST_METRIC}", -1.0))
    metrics = {
        "best_epoch": best["epoch"],
        **{k: v for k, v in best.items() if k.startswith("val_")},
        "epochs_run": len(history.epochs),
        "train_runtime_s": round(outcome.metrics["train_runtime"], 2),
        "train_examples_per_s": round(outcome.metrics["train_samples_per_second"], 3),
        "train_loss": round(outcome.training_loss, 6),
        "n_train": len(train_ds),
        "n_validation": len(val_ds),
        "n_parameters": count_parameters(trainer.model),
    }
    return TrainResult(metrics=metrics, epochs=history.epochs, steps=history.steps, device=str(trainer.args.device))


def save_pipeline_config(params: Params, output_dir: Path) -> None:
    """What inference needs to prepare text exactly as training did."""
    config = {
        "source_model": params.model.name,
        "data_source": params.data.source,
        "clean": "strip_html+unescape+normalise_whitespace",
        "max_length": params.tokenize.max_length,
        "truncation": params.tokenize.truncation,
        "head_fraction": params.tokenize.head_fraction,
        "labels": ["neg", "pos"],
    }
    (Path(output_dir) / PIPELINE_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
