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


def run_step(step: Callable[..., object], paths: dict[str, Path], argv: list[str] | None = None) -> None:
    """A stage script's whole main: its paths from the command line, in the order of
    `paths` (dvc.yaml's cmd names them, as DVC's example-get-started does; each
    defaults to its value in `paths`), params from params.yaml, then
    `step(params, **paths)` under `run`."""
    import argparse

    from sentiment_pipeline.config import load_params
    from sentiment_pipeline.params_diff import explained

    parser = argparse.ArgumentParser(description=(step.__doc__ or "").split("\n\n")[0])
    for name, default in paths.items():
        parser.add_argument(name, nargs="?", type=Path, default=default, help=f"default: {default}")
    args = parser.parse_args(argv)

    def main() -> None:
        try:
            params = load_params()
        except PipelineInputError as err:
            raise explained(err) from err
        step(params, **vars(args))

    run(main)


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
    except Exception as err:
        server = _lost_tracking_server(err)
        if server is None or os.environ.get("SENTIMENT_PIPELINE_DEBUG"):
            raise
        print(
            f"\nerror: the MLflow tracking server {server} stopped answering ({_first_line(err)}): "
            "start it again and rerun; a training resumes from its last checkpoint, in the same run",
            file=sys.stderr,
        )
        sys.exit(3)


def _lost_tracking_server(err: Exception) -> str | None:
    """The tracking server's URL when `err` is MLflow failing to reach it mid-stage (else None)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    exceptions = sys.modules.get("mlflow.exceptions")
    if not uri.startswith(("http://", "https://")) or exceptions is None:
        return None
    ours = isinstance(err, exceptions.MlflowException) or type(err).__module__.startswith(("requests", "urllib3"))
    unreachable = any(words in str(err).lower() for words in ("connection refused", "max retries", "connecterror"))
    return uri if ours and unreachable else None


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:160]


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
