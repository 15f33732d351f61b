"""Stage evaluate: models/best on the test split -> metrics/eval.json and reports/ (timings/evaluate.json untracked).
The work is sentiment_pipeline/steps/evaluate.py; dvc.yaml's cmd names the paths in this order."""

from sentiment_pipeline import paths
from sentiment_pipeline.stage import run_step
from sentiment_pipeline.steps.evaluate import evaluate

STEP = evaluate
PATHS = {
    "model_dir": paths.MODEL_DIR,
    "tokenized_dir": paths.TOKENIZED_DIR,
    "clean_test": paths.CLEAN_DIR / "test.parquet",
    "train_metrics": paths.TRAIN_METRICS,
    "reports_dir": paths.REPORTS_DIR,
    "metrics_file": paths.EVAL_METRICS,
    "timing_file": paths.EVAL_TIMING,
}


def main(argv: list[str] | None = None) -> None:
    run_step(STEP, PATHS, argv)


if __name__ == "__main__":
    main()
