"""Stage train: data/tokenized -> models/best, metrics/train.json, training history.

Opens the MLflow run of this pipeline run; evaluate and plot add to it.
"""

import json

import mlflow
import pandas as pd
from datasets import load_from_disk

from sentiment_pipeline import layout, tracking
from sentiment_pipeline.config import load_params
from sentiment_pipeline.training import train
from sentiment_pipeline.stage import run


def main() -> None:
    params = load_params()
    tokenized = load_from_disk(str(layout.TOKENIZED_DIR))
    with tracking.start_training_run(params) as run:
        result = train(params, tokenized, layout.MODEL_DIR, layout.CHECKPOINT_DIR,
                       listeners=[tracking.log_history_row])
        tracking.log_train_summary(result.metrics)
        mlflow.set_tag("device", result.device)
        tracking.write_run_file(layout.RUN_FILE, run)
    layout.REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(result.epochs).to_csv(layout.TRAIN_HISTORY, index=False)
    pd.DataFrame(result.steps, columns=["step", "epoch", "loss", "learning_rate"]).to_csv(
        layout.TRAIN_STEPS, index=False)
    layout.TRAIN_METRICS.parent.mkdir(parents=True, exist_ok=True)
    layout.TRAIN_METRICS.write_text(json.dumps(result.metrics, indent=2) + "\n")
    print(json.dumps(result.metrics, indent=2))


if __name__ == "__main__":
    run(main)
