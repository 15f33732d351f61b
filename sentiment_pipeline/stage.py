"""How a stage script runs and exits: bad input as one clear line, not a traceback."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from sentiment_pipeline.errors import PipelineInputError


def _terminate(signum, frame):
    # SIGTERM (a killed `dvc repro`, a queue worker stopped) unwinds like Ctrl-C,
    # so context managers run: the MLflow run is closed as FAILED, not left RUNNING
    raise SystemExit(128 + signum)


def run(main: Callable[[], None]) -> None:
    """Call a stage's main(); bad params, data or a missing file/folder exit with
    status 2 and a message naming it (SENTIMENT_PIPELINE_DEBUG=1 shows the traceback)."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        main()
    except (PipelineInputError, FileNotFoundError) as err:
        if os.environ.get("SENTIMENT_PIPELINE_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
