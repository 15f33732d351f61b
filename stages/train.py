"""Stage train: data/tokenized -> models/best, metrics/train.json, the training history (timings/train.json untracked).
The work is sentiment_pipeline/steps/train.py; dvc.yaml's cmd names the paths in this order."""

from sentiment_pipeline import paths
from sentiment_pipeline.stage import run_step
from sentiment_pipeline.steps.train import train

STEP = train
PATHS = {
    "tokenized_dir": paths.TOKENIZED_DIR,
    "model_dir": paths.MODEL_DIR,
    "metrics_file": paths.TRAIN_METRICS,
    "history_file": paths.TRAIN_HISTORY,
    "steps_file": paths.TRAIN_STEPS,
    "checkpoints_dir": paths.CHECKPOINT_DIR,
    "timing_file": paths.TRAIN_TIMING,
}


def main(argv: list[str] | None = None) -> None:
    run_step(STEP, PATHS, argv)


if __name__ == "__main__":
    main()
