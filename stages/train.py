"""Stage train: data/tokenized -> models/best, metrics/train.json, training history
(and timings/train.json, untracked: the run's times and throughputs).

Opens the MLflow run of this pipeline run; evaluate and plot add to it. A run
killed midway leaves checkpoints in models/checkpoints (git-ignored, no DVC output), and
the next run with the same params and data resumes from the latest one.
`train.processes` > 1 restarts this stage under torchrun (DDP); rank 0 writes.
model.type picks the model: transformer and bilstm train with the HF Trainer
on the tokenizer the tokenize stage saved; tfidf_logreg is one scikit-learn fit.
"""

import json
import sys

import mlflow
import pandas as pd
from datasets import load_from_disk

from sentiment_pipeline import paths, tracking
from sentiment_pipeline.config import load_params
from sentiment_pipeline.data.encoding import load_saved_tokenizer
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.disk_space import check_free_space
from sentiment_pipeline.models import card
from sentiment_pipeline.precision import resolve_precision
from sentiment_pipeline.stage import run, write_csv, write_text
from sentiment_pipeline.training import distributed
from sentiment_pipeline.training.callbacks import MlflowHistoryCallback
from sentiment_pipeline.training.checkpoints import CheckpointDir, fingerprint
from sentiment_pipeline.training.fit import train


def main() -> None:
    params = load_params()
    check_free_space()
    resolve_precision(params.train.precision, resolve_device(params.train.device))  # bad combination: fail now
    if not paths.TOKENIZED_DIR.is_dir():
        raise FileNotFoundError(f"{paths.TOKENIZED_DIR} not found: run the tokenize stage first")
    network = params.model.type != "tfidf_logreg"
    if network and params.train.processes > 1 and not distributed.launched_by_torchrun():
        sys.exit(distributed.relaunch_with_torchrun("stages.train", params.train.processes))

    tokenized = load_from_disk(str(paths.TOKENIZED_DIR))
    tokenizer = load_saved_tokenizer(paths.TOKENIZER_DIR) if network else None
    checkpoints = CheckpointDir(
        paths.CHECKPOINT_DIR, fingerprint(params, paths.TOKENIZED_DIR), main_process=distributed.is_main_process()
    )
    resume = checkpoints.resume_point()
    if not distributed.is_main_process():  # other DDP ranks train, rank 0 records
        train(params, tokenized, paths.MODEL_DIR, checkpoints, resume.checkpoint, tokenizer=tokenizer)
        return
    if network:  # TF-IDF + LR is one fit: no checkpoints to resume from or to talk about
        print(resume.message, flush=True)
    with tracking.start_training_run(params, run_id=resume.run_id) as mlflow_run:
        checkpoints.start(resume, mlflow_run.info.run_id)
        result = train(
            params,
            tokenized,
            paths.MODEL_DIR,
            checkpoints,
            resume.checkpoint,
            callbacks=[MlflowHistoryCallback()],
            tokenizer=tokenizer,
        )
        tracking.log_train_summary(result.metrics)
        mlflow.set_tags({"device": result.device, "precision": result.precision, "processes": distributed.world_size()})
        # the folder travels to the Hub as is; written before the folder's hash is tagged
        write_text(paths.MODEL_CARD, card.render(params, result.metrics))
        tracking.tag_training_outputs(paths.MODEL_DIR, paths.TOKENIZED_DIR, result.metrics)
    # times and throughputs (in MLflow already) to timings/, everything else to the DVC outputs:
    # a rerun of the same params and data rewrites them byte for byte
    history = pd.DataFrame(result.epochs)
    timing = {
        **result.metrics.pop(paths.TIMING_KEY),
        "epochs": history[["epoch", *paths.TIMING_COLUMNS]].to_dict("records"),
    }
    write_text(paths.TRAIN_TIMING, json.dumps(timing, indent=2) + "\n")
    write_csv(history.drop(columns=list(paths.TIMING_COLUMNS)), paths.TRAIN_HISTORY)
    write_csv(pd.DataFrame(result.steps, columns=["step", "epoch", "loss", "learning_rate"]), paths.TRAIN_STEPS)
    write_text(paths.TRAIN_METRICS, json.dumps(result.metrics, indent=2) + "\n")
    print(json.dumps(result.metrics, indent=2))
    print(
        f"{timing['train_runtime_s']:.1f} s of training, "
        f"{timing['train_examples_per_s']:.1f} reviews/s ({paths.TRAIN_TIMING})"
    )


if __name__ == "__main__":
    run(main)
