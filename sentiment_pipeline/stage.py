"""How a stage script exits: user errors as one clear line, not a traceback."""

from __future__ import annotations

import os
import sys
from typing import Callable

from .config import ParamsError
from .data import DataError
from .sources import SourceError

USER_ERRORS = (ParamsError, DataError, SourceError, FileNotFoundError)


def run(main: Callable[[], None]) -> None:
    """Call a stage's main(); a bad param, dataset or missing file exits with status 2
    and a message naming it (set SENTIMENT_PIPELINE_DEBUG=1 for the traceback)."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    try:
        main()
    except USER_ERRORS as err:
        if os.environ.get("SENTIMENT_PIPELINE_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
