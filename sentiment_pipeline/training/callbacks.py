"""Trainer callbacks: the per-epoch history (and its MLflow logging), and
checkpoints every N steps that complete the pipeline's own state."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from transformers import TrainerCallback

from sentiment_pipeline import tracking
from sentiment_pipeline.training.checkpoints import CheckpointDir


class HistoryCallback(TrainerCallback):
    """Collects per-step training loss and one row per epoch (train loss, validation
    metrics, epoch time, step time, throughput), and hands each row to `record`
    as it comes (on rank 0 only). Its state travels in checkpoints, so a resumed
    run continues the same history, the interrupted epoch's time included."""

    def __init__(self) -> None:
        self.n_train = 0
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
        return {
            "steps": self.steps,
            "epochs": self.epochs,
            "mid_epoch": mid_epoch,
            "epoch_step0": self._epoch_step0,
            "epoch_elapsed": self._elapsed_before + in_epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.epochs = list(state["steps"]), list(state["epochs"])
        self._resumed = state

    def _emit(self, state, kind: str, row: dict) -> None:
        if state.is_world_process_zero:
            self.record(kind, row)

    def record(self, kind: str, row: dict) -> None:
        """A new step or epoch row, on rank 0: subclasses send it somewhere."""

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        if train_dataloader is not None:
            self.n_train = len(train_dataloader.dataset)

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
            row = {
                "step": state.global_step,
                "epoch": round(state.epoch or 0, 4),
                "loss": logs["loss"],
                "learning_rate": logs.get("learning_rate"),
            }
            self.steps.append(row)
            self._emit(state, "step", row)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics = metrics or {}
        epoch = len(self.epochs) + 1
        in_epoch = [s for s in self.steps if s["step"] > self._epoch_step0]
        steps_in_epoch = max(state.global_step - self._epoch_step0, 1)
        examples = min(
            self.n_train, steps_in_epoch * args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        )
        row = {
            "epoch": epoch,
            "step": state.global_step,
            # logs come at every logging step, checkpoint and epoch end, so this is the epoch's own mean
            "train_loss": float(np.mean([s["loss"] for s in in_epoch])) if in_epoch else None,
            **{
                f"val_{k[len('eval_') :]}": v
                for k, v in metrics.items()
                if k.startswith("eval_")
                and k not in ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_epoch")
            },
            "epoch_time_s": round(self._epoch_time, 3),
            "epoch_examples_per_s": round(examples / max(self._epoch_time, 1e-9), 3),
            "step_time_s": round(self._epoch_time / steps_in_epoch, 4),
        }
        self.epochs.append(row)
        self._emit(state, "epoch", row)


class MlflowHistoryCallback(HistoryCallback):
    """The history, logged to the active MLflow run as it comes: step rows at the
    global step, epoch rows at the epoch."""

    def record(self, kind: str, row: dict) -> None:
        tracking.log_history_row(kind, row)


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
        self.checkpoints.complete(
            Path(args.output_dir) / f"checkpoint-{state.global_step}", self.history.state_dict(state.global_step)
        )
