"""Stage validate: every param checked before any other stage runs (see
sentiment_pipeline/preflight.py) -> reports/params_check.json, a constant."""

import json

from sentiment_pipeline import paths
from sentiment_pipeline.config import load_params
from sentiment_pipeline.preflight import VALID, check_params
from sentiment_pipeline.stage import run


def main() -> None:
    check_params(load_params())
    paths.PARAMS_CHECK.parent.mkdir(parents=True, exist_ok=True)
    paths.PARAMS_CHECK.write_text(json.dumps(VALID) + "\n")
    print("params: valid")


if __name__ == "__main__":
    run(main)
