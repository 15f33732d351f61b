"""The train step: tokenized data -> a model folder, metrics/train.json, the training history
(and the run's times and throughputs to a timings file, untracked).

Opens the MLflow run of this pipeline run; evaluate and plot add to it. A run
killed midway leaves checkpoints in `checkpoints_dir` (git-ignored, no DVC
output), and the next run with the same params and data resumes from the latest
one. `train.processes` > 1 restarts the stage under torchrun (DDP); rank 0
writes. The model's kind (models/kinds.py) decides how it is fitted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import pandas as pd
from datasets import load_from_disk

from sentiment_pipeline import tracking
from sentiment_pipeline.config import Params
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.disk_space import check_free_space
from sentiment_pipeline.models import card, kinds
from sentiment_pipeline.paths import MODEL_CARD, TIMING_COLUMNS, TIMING_KEY, TOKENIZER_DIR
from sentiment_pipeline.precision import resolve_precision
from sentiment_pipeline.stage import write_csv, write_text
from sentiment_pipeline.training import distributed
from sentiment_pipeline.training.callbacks import MlflowHistoryCallback
from sentiment_pipeline.training.checkpoints import CheckpointDir, fingerprint
from sentiment_pipeline.training.fit import TrainResult
from sentiment_pipeline.training.fit import train as fit

STAGE = "stages.train"  # what torchrun restarts


def train(
    params: Params,
    tokenized_dir: Path,
    model_dir: Path,
    metrics_file: Path,
    history_file: Path,
    steps_file: Path,
    checkpoints_dir: Path,
    timing_file: Path,
) -> dict:
    """Train the params' model on `tokenized_dir` into `model_dir` (with its model card);
    write the metrics, the per-epoch and per-step history and the timings; return the metrics."""
    check_free_space()
    resolve_precision(params.train.precision, resolve_device(params.train.device))  # bad combination: fail now
    if not Path(tokenized_dir).is_dir():
        raise FileNotFoundError(f"{tokenized_dir} not found: run the tokenize stage first")
    kind = kinds.get(params.model.type)
    network = kind.uses_trainer  # Trainer-fitted: DDP, checkpoints, a saved tokenizer
    if network and params.train.processes > 1 and not distributed.launched_by_torchrun():
        paths = [tokenized_dir, model_dir, metrics_file, history_file, steps_file, checkpoints_dir, timing_file]
        sys.exit(distributed.relaunch_with_torchrun(STAGE, params.train.processes, [str(p) for p in paths]))

    tokenized = load_from_disk(str(tokenized_dir))
    tokenizer = kind.saved_tokenizer(Path(tokenized_dir) / TOKENIZER_DIR.name)
    checkpoints = CheckpointDir(
        Path(checkpoints_dir), fingerprint(params, Path(tokenized_dir)), main_process=distributed.is_main_process()
    )
    resume = checkpoints.resume_point()
    if not distributed.is_main_process():  # other DDP ranks train, rank 0 records
        fit(params, tokenized, Path(model_dir), checkpoints, resume.checkpoint, tokenizer=tokenizer)
        return {}
    if network:  # TF-IDF + LR is one fit: no checkpoints to resume from or to talk about
        print(resume.message, flush=True)
    with tracking.start_training_run(params, kind.label(params.model), run_id=resume.run_id) as mlflow_run:
        checkpoints.start(resume, mlflow_run.info.run_id)
        callbacks = [MlflowHistoryCallback()]
        result = fit(
            params, tokenized, Path(model_dir), checkpoints, resume.checkpoint, callbacks=callbacks, tokenizer=tokenizer
        )
        tracking.log_train_summary(result.metrics)
        mlflow.set_tags({"device": result.device, "precision": result.precision, "processes": distributed.world_size()})
        # the folder travels to the Hub as is; written before the folder's hash is tagged
        write_text(Path(model_dir) / MODEL_CARD.name, card.render(params, result.metrics))
        tracking.tag_training_outputs(Path(model_dir), Path(tokenized_dir), result.metrics)
    _write_history(result, metrics_file, history_file, steps_file, timing_file)
    return result.metrics


def _write_history(result: TrainResult, metrics_file: Path, history_file: Path, steps_file: Path, timing_file: Path):
    """Times and throughputs (in MLflow already) to the timings file, everything else to the
    DVC outputs: a rerun of the same params and data rewrites them byte for byte."""
    history = pd.DataFrame(result.epochs)
    timing = {**result.metrics.pop(TIMING_KEY), "epochs": history[["epoch", *TIMING_COLUMNS]].to_dict("records")}
    write_text(timing_file, json.dumps(timing, indent=2) + "\n")
    write_csv(history.drop(columns=list(TIMING_COLUMNS)), history_file)
    write_csv(pd.DataFrame(result.steps, columns=["step", "epoch", "loss", "learning_rate"]), steps_file)
    write_text(metrics_file, json.dumps(result.metrics, indent=2) + "\n")
    print(json.dumps(result.metrics, indent=2))
    print(
        f"{timing['train_runtime_s']:.1f} s of training, {timing['train_examples_per_s']:.1f} reviews/s ({timing_file})"
    )
