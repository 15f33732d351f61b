"""Stage download: the labelled train/test splits of data.source -> data/raw/*.parquet.
The work is sentiment_pipeline/steps/download.py; dvc.yaml's cmd names the paths in this order."""

from sentiment_pipeline import paths
from sentiment_pipeline.stage import run_step
from sentiment_pipeline.steps.download import download

STEP = download
PATHS = {
    "raw_dir": paths.RAW_DIR,
}


def main(argv: list[str] | None = None) -> None:
    run_step(STEP, PATHS, argv)


if __name__ == "__main__":
    main()
