"""The validate step: every param checked before any other stage runs (preflight.py)."""

from __future__ import annotations

import json
from pathlib import Path

from sentiment_pipeline.config import Params
from sentiment_pipeline.disk_space import check_free_space
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.params_diff import explained
from sentiment_pipeline.preflight import VALID, check_params
from sentiment_pipeline.stage import write_text


def validate(params: Params, params_check: Path) -> dict:
    """Check `params` (a PipelineInputError naming the problem), then write the constant `params_check`."""
    try:
        check_params(params)
    except PipelineInputError as err:
        raise explained(err) from err
    check_free_space()
    write_text(params_check, json.dumps(VALID) + "\n")
    print("params: valid")
    return VALID
