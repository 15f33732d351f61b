"""Stage clean: data/raw -> data/clean/{train,validation,test}.parquet + reports/clean.json.
The work is sentiment_pipeline/steps/clean.py; dvc.yaml's cmd names the paths in this order."""

from sentiment_pipeline import paths
from sentiment_pipeline.stage import run_step
from sentiment_pipeline.steps.clean import clean

STEP = clean
PATHS = {
    "raw_dir": paths.RAW_DIR,
    "clean_dir": paths.CLEAN_DIR,
    "report_file": paths.CLEAN_REPORT,
}


def main(argv: list[str] | None = None) -> None:
    run_step(STEP, PATHS, argv)


if __name__ == "__main__":
    main()
