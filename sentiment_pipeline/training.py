"""Training with the Hugging Face Trainer and SentimentWeightedLoss (transformer
and bilstm; tfidf_logreg is handed to tfidf_logreg.py).

The Trainer does the loop: AdamW, linear warmup/decay, gradient accumulation and
clipping, mixed precision (autocast, grad scaler for fp16), device placement,
DistributedDataParallel under torchrun, tqdm bars, per-epoch validation, early
stopping, keeping the best checkpoint by validation F1, and checkpoint/resume
(it skips the batches a checkpoint already trained on and restores the RNGs).
This module adds the custom loss (via `compute_loss`), the length-grouped order
that resumes exactly (sampling.py), checkpoints every N steps that are only
resumed by the same params and data (checkpoints.py), a per-epoch history, and
the files the later stages read.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from transformers import (
    EarlyStoppingCallback,
    EvalPrediction,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from . import tfidf_logreg
from .batching import LENGTH_KEY, TOKEN_LENGTH_KEY, PaddingCollatorWithLengths, sort_by_length, token_lengths
from .checkpoints import CheckpointDir, load_history
from .config import Params
from .evaluation import classification_metrics, softmax
from .inference import PIPELINE_CONFIG
from .layout import TIMING_KEY
from .loss import SentimentWeightedLoss
from .modeling import accepted_inputs, build_model, count_parameters
from .precision import Precision, resolve_device, resolve_precision
from .sampling import EpochSeededLengthGroupedSampler
from .sources import base_model_info
from .tokenization import load_tokenizer, strip_load_time_keys

BEST_METRIC = "f1"


class WeightedLossTrainer(Trainer):
    """Trainer whose loss is SentimentWeightedLoss over (logits, labels, n_words),
    and whose length-grouped order is seeded per epoch (exact resume)."""

    # our loss is a per-batch mean, so the Trainer must divide it for gradient accumulation
    loss_is_scaled_for_ga = False

    def __init__(self, *args, loss_fn: SentimentWeightedLoss, group_by_length: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self.group_by_length = group_by_length

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)  # the Trainer reads labels from the original afterwards
        labels = inputs.pop("labels")
        lengths = inputs.pop(LENGTH_KEY, None)
        outputs = model(**inputs)
        loss = self.loss_fn(outputs.logits, labels, lengths)
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, train_dataset: Dataset | None = None):
        if not self.group_by_length:
            return super()._get_train_sampler(train_dataset)  # random; accelerate seeds it per epoch
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        return EpochSeededLengthGroupedSampler(
            self.args.train_batch_size * self.args.gradient_accumulation_steps,
            lengths=token_lengths(dataset).tolist(),
            seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
        )


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    scores = classification_metrics(prediction.label_ids, softmax(logits)[:, 1])
    return {k: v for k, v in scores.items() if v is not None}


class HistoryCallback(TrainerCallback):
    """Collects per-step training loss and one row per epoch (train loss, validation
    metrics, epoch time, step time, throughput), and hands each row to `listeners`
    as it comes (on rank 0 only). Its state travels in checkpoints, so a resumed
    run continues the same history, the interrupted epoch's time included."""

    def __init__(self, n_train: int, listeners: list[Callable[[str, dict], None]] | None = None) -> None:
        self.n_train = n_train
        self.listeners = listeners or []
        self.steps: list[dict] = []
        self.epochs: list[dict] = []
        self._epoch_start = 0.0
        self._epoch_time = 0.0
        self._epoch_step0 = 0
        self._elapsed_before = 0.0  # time this epoch ran before a resume
        self._resumed: dict | None = None

    def state_dict(self, global_step: int) -> dict:
        in_epoch = time.perf_counter() - self._epoch_start
        mid_epoch = not self.epochs or self.epochs[-1]["step"] < global_step  # else saved at an epoch end
        return {"steps": self.steps, "epochs": self.epochs, "mid_epoch": mid_epoch,
                "epoch_step0": self._epoch_step0, "epoch_elapsed": self._elapsed_before + in_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.epochs = list(state["steps"]), list(state["epochs"])
        self._resumed = state

    def _emit(self, state, kind: str, row: dict) -> None:
        if state.is_world_process_zero:
            for listener in self.listeners:
                listener(kind, row)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_start = time.perf_counter()
        self._epoch_step0 = state.global_step
        self._elapsed_before = 0.0
        if self._resumed is not None:
            if self._resumed.get("mid_epoch"):
                # resumed in the middle of this epoch: keep counting from its start
                self._epoch_step0 = self._resumed["epoch_step0"]
                self._elapsed_before = self._resumed["epoch_elapsed"]
            self._resumed = None

    def on_epoch_end(self, args, state, control, **kwargs):
        self._epoch_time = self._elapsed_before + time.perf_counter() - self._epoch_start

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            row = {"step": state.global_step, "epoch": round(state.epoch or 0, 4), "loss": logs["loss"],
                   "learning_rate": logs.get("learning_rate")}
            self.steps.append(row)
            self._emit(state, "step", row)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics = metrics or {}
        epoch = len(self.epochs) + 1
        in_epoch = [s for s in self.steps if s["step"] > self._epoch_step0]
        steps_in_epoch = max(state.global_step - self._epoch_step0, 1)
        examples = min(self.n_train, steps_in_epoch * args.train_batch_size * args.gradient_accumulation_steps
                       * args.world_size)
        row = {
            "epoch": epoch,
            "step": state.global_step,
            # logs come at every logging step, checkpoint and epoch end, so this is the epoch's own mean
            "train_loss": float(np.mean([s["loss"] for s in in_epoch])) if in_epoch else None,
            **{f"val_{k[len('eval_'):]}": v for k, v in metrics.items()
               if k.startswith("eval_") and k not in ("eval_runtime", "eval_samples_per_second",
                                                      "eval_steps_per_second", "eval_epoch")},
            "epoch_time_s": round(self._epoch_time, 3),
            "epoch_examples_per_s": round(examples / max(self._epoch_time, 1e-9), 3),
            "step_time_s": round(self._epoch_time / steps_in_epoch, 4),
        }
        self.epochs.append(row)
        self._emit(state, "epoch", row)


class CheckpointCallback(TrainerCallback):
    """Checkpoints every `every_steps` optimizer steps besides the Trainer's
    epoch-end ones, each completed by CheckpointDir (history, no pickle, marker).

    It also makes the Trainer log at every checkpoint and epoch end: the Trainer
    does not checkpoint the loss it has summed since its last log, so without
    this a resumed run would log a differently averaged loss."""

    def __init__(self, checkpoints: CheckpointDir, history: HistoryCallback, every_steps: int) -> None:
        self.checkpoints = checkpoints
        self.history = history
        self.every_steps = every_steps

    def on_step_end(self, args, state, control, **kwargs):
        at_epoch_end = abs((state.epoch or 0) - round(state.epoch or 0)) < 1e-9  # the epoch-end save comes next
        if self.every_steps and state.global_step % self.every_steps == 0 and not at_epoch_end:
            control.should_save = True
            control.should_log = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_log = True
        return control

    def on_save(self, args, state, control, **kwargs):
        self.checkpoints.complete(Path(args.output_dir) / f"checkpoint-{state.global_step}",
                                  self.history.state_dict(state.global_step))


@dataclass
class TrainResult:
    metrics: dict
    epochs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    device: str = "cpu"
    precision: str = "fp32"


TRAIN_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "label", LENGTH_KEY, TOKEN_LENGTH_KEY)


def training_arguments(params: Params, checkpoint_dir: Path, precision: Precision) -> TrainingArguments:
    t = params.train
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.grad_accum_steps,
        max_grad_norm=t.max_grad_norm,  # 0 = no clipping
        learning_rate=t.lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,  # a float in [0, 1) is a share of all steps in transformers 5
        lr_scheduler_type="linear",
        optim="adamw_torch",
        bf16=precision.bf16,
        fp16=precision.fp16,
        seed=t.seed,
        data_seed=t.seed,
        full_determinism=t.deterministic,
        eval_strategy="epoch",
        save_strategy="epoch",  # plus every checkpoint_every_steps (CheckpointCallback)
        save_total_limit=1,  # with load_best_model_at_end the best checkpoint is kept as well
        load_best_model_at_end=True,
        metric_for_best_model=BEST_METRIC,
        greater_is_better=True,
        restore_callback_states_from_checkpoint=True,  # the early-stopping counter survives a resume
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        train_sampling_strategy="random",  # length grouping: WeightedLossTrainer._get_train_sampler
        remove_unused_columns=False,  # n_words must reach compute_loss
        use_cpu=precision.device == "cpu",
        report_to="none",  # MLflow logging is ours (tracking.py): stable names, one run per pipeline run
    )


def build_loss(params: Params, train_ds: Dataset) -> SentimentWeightedLoss:
    loss_cfg = params.train.loss
    reference = None
    if loss_cfg.length_norm == "dataset":
        lengths = torch.from_numpy(np.asarray(train_ds.with_format("numpy")[LENGTH_KEY]))
        reference = SentimentWeightedLoss.reference_for(lengths, loss_cfg.length_weight)
    return SentimentWeightedLoss(loss_cfg.length_weight, loss_cfg.confidence_penalty, loss_cfg.length_norm, reference)


def build_trainer(
    params: Params,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_ds: Dataset,
    val_ds: Dataset | None,
    checkpoint_dir: Path,
    callbacks: list[TrainerCallback] | None = None,
    pad_to: int | None = None,
    overrides: dict | None = None,
) -> WeightedLossTrainer:
    """The project's Trainer for `params`. bench/throughput.py uses it too:
    `pad_to` pads every batch to a fixed length, `overrides` replaces
    TrainingArguments fields (no evaluation or saving while timing)."""
    precision = resolve_precision(params.train.precision, resolve_device(params.train.device))
    callbacks = list(callbacks or [])
    if params.train.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=params.train.early_stopping_patience))
    if val_ds is not None:
        val_ds, _ = sort_by_length(val_ds)  # order does not change the metrics; sorted pads least
    args = training_arguments(params, checkpoint_dir, precision)
    if overrides:
        args = dataclasses.replace(args, **overrides)
    return WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=PaddingCollatorWithLengths(tokenizer, pad_to=pad_to),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        loss_fn=build_loss(params, train_ds),
        group_by_length=params.train.group_by_length,
    )


def train(
    params: Params,
    tokenized: DatasetDict,
    output_dir: Path,
    checkpoints: CheckpointDir,
    resume_from: Path | None = None,
    listeners: list[Callable[[str, dict], None]] | None = None,
    callbacks: list[TrainerCallback] | None = None,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> TrainResult:
    """Train the `params.model.type` model on tokenized train, pick the best epoch
    by validation F1, save it (safetensors + tokenizer + pipeline config) to `output_dir`.

    `tokenizer` is the one the data was encoded with (the tokenize stage saves
    it); None loads `model.name`'s (transformer only). Checkpoints go to
    `checkpoints.root`; `resume_from` (a complete checkpoint there, see
    CheckpointDir.resume_point) continues an interrupted training.
    tfidf_logreg is fitted by scikit-learn instead (tfidf_logreg.py).
    """
    for split in ("train", "validation"):
        if split not in tokenized:
            raise ValueError(f"tokenized data has no {split!r} split (found {list(tokenized)})")
    if params.model.type == "tfidf_logreg":
        return _train_tfidf_logreg(params, tokenized, output_dir, checkpoints, listeners)
    if tokenizer is None:
        if params.model.type != "transformer":
            raise ValueError(f"model.type={params.model.type} needs the tokenizer of the tokenize stage")
        tokenizer = load_tokenizer(params.model.name)

    set_seed(params.train.seed)  # the new classification head is initialised from this seed
    model = build_model(params.model, tokenizer)
    columns = accepted_inputs(model, [c for c in TRAIN_COLUMNS if c in tokenized["train"].column_names])
    train_ds = tokenized["train"].select_columns(columns)
    val_ds = tokenized["validation"].select_columns(columns)
    history = HistoryCallback(len(train_ds), listeners)
    saver = CheckpointCallback(checkpoints, history, params.train.checkpoint_every_steps)
    trainer = build_trainer(params, model, tokenizer, train_ds, val_ds, checkpoints.root,
                            callbacks=[history, saver, *(callbacks or [])])
    if resume_from is not None:
        saved = load_history(resume_from)
        if saved:
            history.load_state_dict(saved)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    if trainer.is_world_process_zero():
        trainer.save_model(str(output_dir))
        # the Trainer also pickles its TrainingArguments there; the model folder stays pickle-free
        (Path(output_dir) / "training_args.bin").unlink(missing_ok=True)
        strip_load_time_keys(output_dir)
        save_pipeline_config(params, output_dir)
    checkpoints.finish()

    best = max(history.epochs, key=lambda row: row.get(f"val_{BEST_METRIC}", -1.0))
    train_time = sum(row["epoch_time_s"] for row in history.epochs)  # across a resume, unlike the Trainer's
    examples = sum(row["epoch_examples_per_s"] * row["epoch_time_s"] for row in history.epochs)
    metrics = {
        "best_epoch": best["epoch"],
        **{k: v for k, v in best.items() if k.startswith("val_")},
        "train_loss": best["train_loss"],  # of the best epoch, the one saved
        "epochs_run": len(history.epochs),
        "n_train": len(train_ds),
        "n_validation": len(val_ds),
        "n_parameters": count_parameters(trainer.model),
        "model_size_mb": folder_size_mb(output_dir),
        "base_model": base_model(params),
        # the only figures that differ between two runs of the same params and data
        TIMING_KEY: {"train_runtime_s": round(train_time, 2),
                     "train_examples_per_s": round(examples / max(train_time, 1e-9), 3)},
    }
    return TrainResult(metrics=metrics, epochs=history.epochs, steps=history.steps,
                       device=str(trainer.args.device),
                       precision="bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32")


def base_model(params: Params) -> dict | None:
    """Which pretrained weights the training started from (None: trained from scratch)."""
    return base_model_info(params.model.name) if params.model.type == "transformer" else None


def save_pipeline_config(params: Params, output_dir: Path) -> None:
    """What inference needs to prepare text exactly as training did, and which
    weights the training started from (no paths, no times: the folder's DVC hash
    depends on params and data only)."""
    config = {
        "model_type": params.model.type,
        "source_model": params.model.name if params.model.type == "transformer" else params.model.type,
        "base_model": base_model(params),
        "clean": "strip_html+unescape+normalise_whitespace",
        "max_length": params.tokenize.max_length,
        "truncation": params.tokenize.truncation,
        "head_fraction": params.tokenize.head_fraction,
        "labels": ["neg", "pos"],
    }
    (Path(output_dir) / PIPELINE_CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def folder_size_mb(folder: Path) -> float:
    """Size on disk of a saved model folder, in MB (10**6 bytes)."""
    return round(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6, 3)


def _train_tfidf_logreg(params: Params, tokenized: DatasetDict, output_dir: Path, checkpoints: CheckpointDir,
                        listeners: list[Callable[[str, dict], None]] | None) -> TrainResult:
    """One scikit-learn fit (seconds to a minute): no epochs to resume, so no checkpoints."""
    model, row, metrics = tfidf_logreg.train(params, tokenized)
    for listener in listeners or []:
        listener("epoch", row)
    tfidf_logreg.save(model, output_dir)
    save_pipeline_config(params, output_dir)
    checkpoints.finish()
    metrics["model_size_mb"] = folder_size_mb(output_dir)
    return TrainResult(metrics=metrics, epochs=[row], steps=[], device="cpu", precision="fp32")
