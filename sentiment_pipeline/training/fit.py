"""Training a model of any kind: `train(params, tokenized, ...)` -> a saved
model folder and its metrics.

The model's kind (models/kinds.py) says how: a network its kind builds is
fitted by the Hugging Face Trainer (trainer.py) with SentimentWeightedLoss;
a kind that fits itself (TF-IDF + LR) gets the same loss's weights.
Checkpoints every N steps are only resumed by the same params and data
(checkpoints.py); the history comes from a HistoryCallback (callbacks.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback, set_seed

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.encoding import strip_load_time_keys
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.errors import DataError, PipelineInputError
from sentiment_pipeline.evaluation.calibration import fit_temperature
from sentiment_pipeline.hashing import sha256_file
from sentiment_pipeline.models import kinds
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.models.kinds import LoadedModel
from sentiment_pipeline.models.network import TOKENIZER_FILE, accepted_inputs, predict_ids
from sentiment_pipeline.paths import LABEL, LENGTH, N_WORDS, TIMING_KEY
from sentiment_pipeline.precision import resolve_attention, resolve_precision
from sentiment_pipeline.training.callbacks import CheckpointCallback, HistoryCallback
from sentiment_pipeline.training.checkpoints import CheckpointDir, load_history
from sentiment_pipeline.training.loss import SentimentWeightedLoss, build_loss
from sentiment_pipeline.training.trainer import BEST_METRIC, build_trainer


@dataclass
class TrainResult:
    metrics: dict
    epochs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    device: str = "cpu"
    precision: str = "fp32"


TRAIN_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", LABEL, N_WORDS, LENGTH)


def train(
    params: Params,
    tokenized: DatasetDict,
    output_dir: Path,
    checkpoints: CheckpointDir,
    resume_from: Path | None = None,
    callbacks: list[TrainerCallback] | None = None,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> TrainResult:
    """Train the `params.model.type` model on tokenized train, pick the best epoch
    by validation F1, save it (weights + tokenizer + pipeline config) to `output_dir`.

    `tokenizer` is the one the data was encoded with (the tokenize stage saves
    it); None: the kind's default (a transformer's own). Checkpoints go to `checkpoints.root`; `resume_from` (a complete
    checkpoint there, see CheckpointDir.resume_point) continues an interrupted
    training. A HistoryCallback among `callbacks` (e.g. MlflowHistoryCallback)
    collects the history; otherwise a plain one does.
    """
    for split in ("train", "validation"):
        if split not in tokenized:
            raise DataError(
                f"tokenized data has no {split!r} split (found {list(tokenized)}): "
                "rerun the tokenize stage (dvc repro -f -s tokenize)"
            )
    callbacks = list(callbacks or [])
    history = next((c for c in callbacks if isinstance(c, HistoryCallback)), None)
    if history is None:
        history = HistoryCallback()
        callbacks.insert(0, history)
    kind = kinds.get(params.model.type)
    if not kind.uses_trainer:  # the one place training asks how a kind is fitted
        return _fit_by_kind(kind, params, tokenized, output_dir, checkpoints, history)
    tokenizer = tokenizer or kind.default_tokenizer(params)
    if tokenizer is None:
        raise PipelineInputError(
            f"model.type={params.model.type} needs the tokenizer the tokenize stage saved: "
            "rerun it (dvc repro -f -s tokenize)"
        )
    return _fit_with_trainer(kind, params, tokenized, output_dir, checkpoints, resume_from, callbacks, tokenizer)


def _fit_with_trainer(
    kind: kinds.ModelKind,
    params: Params,
    tokenized: DatasetDict,
    output_dir: Path,
    checkpoints: CheckpointDir,
    resume_from: Path | None,
    callbacks: list[TrainerCallback],
    tokenizer: PreTrainedTokenizerBase,
) -> TrainResult:
    history = next(c for c in callbacks if isinstance(c, HistoryCallback))
    model = build_network(params, tokenizer)
    columns = accepted_inputs(model, [c for c in TRAIN_COLUMNS if c in tokenized["train"].column_names])
    train_ds = tokenized["train"].select_columns(columns)
    val_ds = tokenized["validation"].select_columns(columns)
    saver = CheckpointCallback(checkpoints, history, params.train.checkpoint_every_steps)
    trainer = build_trainer(params, model, tokenizer, train_ds, val_ds, checkpoints.root, callbacks=[*callbacks, saver])
    if resume_from is not None:
        saved = load_history(resume_from)
        if saved:
            history.load_state_dict(saved)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    provenance = kind.base_model(params.model)  # hashes the base weights: once per run
    temperature = 1.0
    if trainer.is_world_process_zero():
        temperature = _save_network(trainer, params, provenance, tokenizer, val_ds, output_dir)
    checkpoints.finish()
    dtype = trained_precision(trainer)
    metrics = summarize(
        history.epochs,
        len(train_ds),
        len(val_ds),
        kind.n_parameters(trainer.model),
        output_dir,
        provenance,
        temperature=round(temperature, 6),
        dtype=dtype,  # fp32 | bf16 | fp16 (the metric "precision" is the classifier's)
    )
    return TrainResult(metrics, history.epochs, history.steps, str(trainer.args.device), dtype)


def _save_network(trainer, params: Params, provenance, tokenizer, val_ds, output_dir: Path) -> float:
    """Temperature scaling on the validation split with the best epoch's model, then
    the model folder: weights, tokenizer, sentiment_pipeline.json. Returns T."""
    artifact = ModelArtifact.from_params(params, provenance)
    val_margins = predict_ids(
        LoadedModel(artifact, trainer.model.eval(), tokenizer),
        list(val_ds["input_ids"]),
        params.train.eval_batch_size,
        str(trainer.args.device),
        dtype=trained_precision(trainer),
    )
    temperature = fit_temperature(val_margins, np.asarray(val_ds[LABEL]))
    trainer.save_model(str(output_dir))
    # the Trainer also pickles its TrainingArguments there; the model folder stays pickle-free
    (Path(output_dir) / "training_args.bin").unlink(missing_ok=True)
    strip_load_time_keys(output_dir)
    tokenizer_sha = sha256_file(Path(output_dir) / TOKENIZER_FILE)
    dataclasses.replace(artifact, temperature=round(temperature, 6), tokenizer_sha256=tokenizer_sha).write(output_dir)
    return temperature


def trained_precision(trainer) -> str:
    """fp32, bf16 or fp16: what the Trainer's autocast ran in."""
    return "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32"


def build_network(params: Params, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """The network to train, as `params` ask: seeded head, attention kernel, frozen embeddings."""
    set_seed(params.train.seed)  # the new classification head is initialised from this seed
    precision = resolve_precision(params.train.precision, resolve_device(params.train.device))
    attention = resolve_attention(params.train.attn_implementation, precision)
    return kinds.get(params.model.type).build(params, tokenizer, attention)


def summarize(
    epochs: list[dict],
    n_train: int,
    n_validation: int,
    n_parameters: int,
    model_dir: Path,
    base_model: dict | None,
    **extra: float | str,
) -> dict:
    """metrics/train.json for every model type: the best epoch by validation F1
    (the one saved), sizes, the base weights, and the timings under TIMING_KEY."""
    best = max(epochs, key=lambda row: row.get(f"val_{BEST_METRIC}", -1.0))
    train_time = sum(row["epoch_time_s"] for row in epochs)  # across a resume, unlike the Trainer's
    examples = sum(row["epoch_examples_per_s"] * row["epoch_time_s"] for row in epochs)
    return {
        "best_epoch": best["epoch"],
        **{k: v for k, v in best.items() if k.startswith("val_")},
        "train_loss": best["train_loss"],  # of the best epoch, the one saved
        "epochs_run": len(epochs),
        "n_train": n_train,
        "n_validation": n_validation,
        "n_parameters": n_parameters,
        **extra,
        "model_size_mb": folder_size_mb(model_dir),
        "base_model": base_model,
        # the only figures that differ between two runs of the same params and data
        TIMING_KEY: {
            "train_runtime_s": round(train_time, 2),
            "train_examples_per_s": round(examples / max(train_time, 1e-9), 3),
        },
    }


def folder_size_mb(folder: Path) -> float:
    """Size on disk of a saved model folder, in MB (10**6 bytes)."""
    return round(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6, 3)


def dataset_loss(params: Params, train: Dataset) -> SentimentWeightedLoss:
    """The custom loss for a kind that fits itself: length weights normalised over the whole train split."""
    lengths = torch.from_numpy(np.asarray(train[N_WORDS], dtype=np.float64))
    return build_loss(params.train.loss, lengths, length_norm="dataset")


def _fit_by_kind(
    kind: kinds.ModelKind,
    params: Params,
    tokenized: DatasetDict,
    output_dir: Path,
    checkpoints: CheckpointDir,
    history: HistoryCallback,
) -> TrainResult:
    """A kind that fits itself (one scikit-learn fit: no epochs to resume, so no
    checkpoints), with the custom loss's weights normalised over the dataset."""
    model, row = kind.fit(params, tokenized, dataset_loss(params, tokenized["train"]))
    history.epochs.append(row)
    history.record("epoch", row)
    val = tokenized["validation"]
    loaded = LoadedModel(ModelArtifact.from_params(params, None), model)
    margins = kind.dataset_margins(loaded, val, params.train.eval_batch_size, "cpu", "fp32")
    temperature = round(fit_temperature(margins, np.asarray(val[LABEL])), 6)
    extra = kind.save(model, output_dir)
    dataclasses.replace(loaded.artifact, temperature=temperature).write(output_dir)
    checkpoints.finish()
    metrics = summarize(
        [row],
        len(tokenized["train"]),
        len(val),
        kind.n_parameters(model),
        output_dir,
        None,
        **extra,
        temperature=temperature,
    )
    return TrainResult(metrics=metrics, epochs=[row], steps=[], device="cpu", precision="fp32")
