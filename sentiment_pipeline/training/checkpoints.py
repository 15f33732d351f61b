"""Training checkpoints a killed run resumes from, and only the right run.

The Trainer writes each checkpoint (model safetensors; optimizer, scheduler,
grad-scaler and RNG states via ``torch.save`` of tensors and plain values, read
back with ``weights_only=True``; trainer_state.json with the step, epoch and the
stateful callbacks). This module adds what the Trainer does not do:

- a fingerprint of the params and the input data, so a checkpoint is resumed
  only by a run with the same params and inputs, and is otherwise discarded
  with a message naming what changed;
- a completion marker written after everything else in a checkpoint, so a kill
  during a save never leaves a half-written checkpoint to resume from;
- the pipeline's own state beside the Trainer's (history rows, the MLflow run);
- no pickles: the Trainer also pickles its TrainingArguments into every
  checkpoint (training_args.bin, not needed to resume); it is deleted.

Layout of the checkpoint folder (a DVC ``persist: true`` output)::

    state.json              {"status": "running" | "finished", "fingerprint": ..., "run_id": ...}
    checkpoint-<step>/      the Trainer's files + pipeline_history.json + COMPLETE
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sentiment_pipeline.config import Params
from sentiment_pipeline.hashing import hash_tree

STATE_FILE = "state.json"
COMPLETE_MARKER = "COMPLETE"
HISTORY_FILE = "pipeline_history.json"
PICKLED_ARGS = "training_args.bin"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def fingerprint(params: Params, inputs: Path) -> dict:
    """What a checkpoint must match to be resumed: every setting that shapes the
    training (data, model, tokenization, train) and the content of the input data."""
    relevant = params.model_dump(include={"data", "model", "tokenize", "train"})
    # where identical data came from does not matter: its content is hashed below
    for key in ("source", "revision"):
        relevant["data"].pop(key, None)
    # how often to log or checkpoint does not change the trained model
    for key in ("logging_steps", "checkpoint_every_steps"):
        relevant["train"].pop(key, None)
    return {"params": relevant, "inputs_sha256": hash_tree(inputs)}


def _diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{name}.")
        elif a != b:
            out.append(f"{name}: {a!r} -> {b!r}")
    return out


def _describe(checkpoint: Path) -> str:
    """Where a checkpoint stands, from the Trainer's trainer_state.json."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    epoch = state.get("epoch") or 0.0
    done = epoch - int(epoch)
    where = f"start of epoch {int(epoch) + 1}" if done < 1e-6 else f"epoch {int(epoch) + 1}, {done:.0%} through it"
    return f"Resuming training from {checkpoint.name}: step {state['global_step']} of {state['max_steps']}, {where}"


@dataclass(frozen=True)
class ResumePoint:
    checkpoint: Path | None  # the Trainer checkpoint to resume from; None = start fresh
    run_id: str | None  # the MLflow run the interrupted training logged to
    message: str  # what was decided and why, for the log


class CheckpointDir:
    """The checkpoint folder of one training (see the module docstring)."""

    def __init__(self, root: Path, fingerprint: dict, main_process: bool = True) -> None:
        self.root = Path(root)
        self.fingerprint = fingerprint
        self.main_process = main_process  # under DDP only rank 0 writes here

    # -- reading ----------------------------------------------------------
    def _state(self) -> dict | None:
        try:
            return json.loads((self.root / STATE_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        found = []
        for path in self.root.glob("checkpoint-*"):
            match = _CHECKPOINT.match(path.name)
            if match and (path / COMPLETE_MARKER).is_file():
                found.append((int(match.group(1)), path))
        return [path for _, path in sorted(found)]

    def resume_point(self) -> ResumePoint:
        """Decide, without writing anything, whether to resume and from where."""
        state = self._state()
        if state is None:
            return ResumePoint(None, None, "no checkpoint: training from the start")
        if state.get("status") == "finished":
            return ResumePoint(None, None, "last training finished: training from the start")
        changes = _diff(state.get("fingerprint", {}), self.fingerprint)
        if changes:
            return ResumePoint(
                None,
                None,
                "ignoring the checkpoint of an unfinished training with other "
                "params or data (" + "; ".join(changes[:5]) + "): training from the start",
            )
        complete = self.checkpoints()
        if not complete:
            return ResumePoint(None, None, "unfinished training left no complete checkpoint: training from the start")
        return ResumePoint(complete[-1], state.get("run_id"), _describe(complete[-1]))

    # -- writing (main process only) --------------------------------------
    def _write_state(self, state: dict) -> None:
        if self.main_process:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f"{STATE_FILE}.tmp"
            tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
            tmp.replace(self.root / STATE_FILE)

    def _remove_checkpoints(self) -> None:
        if self.main_process:
            for path in self.root.glob("checkpoint-*"):
                shutil.rmtree(path, ignore_errors=True)

    def start(self, resume: ResumePoint, run_id: str | None = None) -> None:
        """Begin a training: when not resuming, drop old checkpoints; record the
        fingerprint and the MLflow run so an interrupted run can continue both."""
        if resume.checkpoint is None:
            self._remove_checkpoints()
        self._write_state({"status": "running", "fingerprint": self.fingerprint, "run_id": run_id})

    def complete(self, checkpoint: Path, history: dict) -> None:
        """Called after the Trainer saved `checkpoint`: add the pipeline state, drop
        the pickle, and mark it complete (last, so only whole checkpoints count)."""
        if not self.main_process or not checkpoint.is_dir():
            return
        (checkpoint / PICKLED_ARGS).unlink(missing_ok=True)
        (checkpoint / HISTORY_FILE).write_text(json.dumps(history) + "\n")
        (checkpoint / COMPLETE_MARKER).write_text("")

    def finish(self) -> None:
        """A finished training keeps no checkpoint; the state says so (deterministic
        content, so DVC records the same output hash for the same params)."""
        self._remove_checkpoints()
        self._write_state({"status": "finished", "fingerprint": self.fingerprint, "run_id": None})


def load_history(checkpoint: Path) -> dict | None:
    path = Path(checkpoint) / HISTORY_FILE
    return json.loads(path.read_text()) if path.is_file() else None
