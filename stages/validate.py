"""Stage validate: every param checked before any other stage runs (see
sentiment_pipeline/preflight.py) -> reports/params_check.json, a constant."""

import json

from sentiment_pipeline import paths
from sentiment_pipeline.config import load_params
from sentiment_pipeline.disk_space import check_free_space
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.preflight import VALID, check_params, params_changed_since_head
from sentiment_pipeline.stage import run, write_text


def main() -> None:
    try:
        check_params(load_params())
    except PipelineInputError as err:
        changed = params_changed_since_head()
        if not changed:
            raise
        raise type(err)(
            f"{err}\n(params.yaml differs from git HEAD in {', '.join(changed)}: a failed `dvc exp run -S` "
            "leaves its values there; `git checkout params.yaml` restores HEAD's)"
        ) from err
    check_free_space()
    paths.PARAMS_CHECK.parent.mkdir(parents=True, exist_ok=True)
    write_text(paths.PARAMS_CHECK, json.dumps(VALID) + "\n")
    print("params: valid")


if __name__ == "__main__":
    run(main)
