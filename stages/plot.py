"""Stage plot: reports/ -> plots/*.png, logged to the MLflow run.
The work is sentiment_pipeline/steps/plot.py; dvc.yaml's cmd names the paths in this order."""

from sentiment_pipeline import paths
from sentiment_pipeline.stage import run_step
from sentiment_pipeline.steps.plot import plot

STEP = plot
PATHS = {
    "model_dir": paths.MODEL_DIR,
    "reports_dir": paths.REPORTS_DIR,
    "plots_dir": paths.PLOTS_DIR,
}


def main(argv: list[str] | None = None) -> None:
    run_step(STEP, PATHS, argv)


if __name__ == "__main__":
    main()
