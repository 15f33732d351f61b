"""The Hugging Face Trainer with the custom loss and the length-grouped order.

The Trainer does the loop: AdamW, linear warmup/decay, gradient accumulation and
clipping, mixed precision (autocast, grad scaler for fp16), device placement,
DistributedDataParallel under torchrun, tqdm bars, per-epoch validation, early
stopping, keeping the best checkpoint by validation F1, and checkpoint/resume
(it skips the batches a checkpoint already trained on and restores the RNGs).
This module adds the custom loss (via `compute_loss`) and the length-grouped
order that resumes exactly (sampling.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    EarlyStoppingCallback,
    EvalPrediction,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.batching import PaddingCollatorWithLengths, sort_by_length, token_lengths
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.evaluation.metrics import classification_metrics, softmax
from sentiment_pipeline.paths import N_WORDS
from sentiment_pipeline.precision import Precision, resolve_precision
from sentiment_pipeline.training.loss import SentimentWeightedLoss, build_loss
from sentiment_pipeline.training.sampling import EpochSeededLengthGroupedSampler

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
        lengths = inputs.pop(N_WORDS, None)
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
        optim=t.optimizer,
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
    if not params.train.deterministic:
        torch.use_deterministic_algorithms(False)  # an earlier deterministic training in this process turned it on
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
        loss_fn=build_loss(params.train.loss, torch.from_numpy(np.asarray(train_ds.with_format("numpy")[N_WORDS]))),
        group_by_length=params.train.group_by_length,
    )
