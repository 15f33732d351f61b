"""How a stage script runs and exits: bad input as one clear line, not a traceback."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sentiment_pipeline.errors import PipelineInputError


def _terminate(signum, frame):
    # SIGTERM (a killed `dvc repro`, a queue worker stopped) unwinds like Ctrl-C,
    # so context managers run: the MLflow run is closed as FAILED, not left RUNNING
    raise SystemExit(128 + signum)


def _stop_with_parent() -> None:
    """Linux: SIGTERM this stage when the process that started it (dvc) dies. DVC
    ignores SIGINT while a stage runs and leaves it running when it is killed itself;
    without this, `kill <dvc>` left the training going on, orphaned."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


def run(main: Callable[[], None]) -> None:
    """Call a stage's main(); bad params, data or a missing file/folder exit with
    status 2 and a message naming it (SENTIMENT_PIPELINE_DEBUG=1 shows the traceback).
    Ctrl-C (SIGINT), SIGTERM and the death of the dvc process that started it stop
    the stage at once, unwinding: the MLflow run closes, checkpoints stay."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C raises KeyboardInterrupt even where SIGINT came in ignored (a shell starts background
    # jobs, `cmd &` in a script, with SIGINT ignored, and Python then keeps it ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _stop_with_parent()
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback from wherever the step was
        print(
            "interrupted: what the stage wrote so far is kept (a training's checkpoints too); `dvc repro` resumes",
            file=sys.stderr,
        )
        sys.exit(128 + signal.SIGINT)
    except (PipelineInputError, FileNotFoundError) as err:
        if os.environ.get("SENTIMENT_PIPELINE_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def write_text(path: Path, text: str) -> None:
    """Replace `path` whole or not at all: written beside it, then renamed. A stage
    killed mid-write leaves the previous file (its outputs kept in git are persist)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv(frame, path: Path) -> None:
    """A DataFrame as CSV (no index), replaced whole (write_text)."""
    write_text(path, frame.to_csv(index=False))
