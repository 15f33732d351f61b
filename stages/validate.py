"""Stage validate: every param checked before any other stage runs -> reports/params_check.json, a constant.
The work is sentiment_pipeline/steps/validate.py; dvc.yaml's cmd names the paths in this order."""

from sentiment_pipeline import paths
from sentiment_pipeline.stage import run_step
from sentiment_pipeline.steps.validate import validate

STEP = validate
PATHS = {
    "params_check": paths.PARAMS_CHECK,
}


def main(argv: list[str] | None = None) -> None:
    run_step(STEP, PATHS, argv)


if __name__ == "__main__":
    main()
