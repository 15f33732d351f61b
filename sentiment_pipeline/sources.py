"""Hub id or local path: one rule for every `source`/`name` the pipeline accepts."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import PipelineInputError


def is_local(ref: str) -> bool:
    """True when `ref` names a local folder rather than a Hugging Face Hub id.

    An existing path is local; so is anything written as a path (absolute,
    ./ ../ ~ prefixes), even when missing, so that a typo in a local path fails
    with "not found" instead of a confusing Hub lookup.
    """
    return Path(ref).expanduser().exists() or ref.startswith(("/", "./", "../", "~", "."))


def check_local(ref: str, what: str) -> str:
    """Return `ref` (expanded) if it is a Hub id or an existing folder, else raise."""
    if not is_local(ref):
        return ref
    path = Path(ref).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {ref!r} is a local path, but no such folder exists")
    return str(path)


class SourceError(PipelineInputError):
    """A dataset or model reference (Hub id or local folder) that cannot be loaded."""


@contextmanager
def loading(ref: str, what: str) -> Iterator[None]:
    """Turn what datasets/transformers raise for an unloadable local folder
    (OSError, ValueError) or an unreachable Hub id (OSError) into a SourceError
    naming the param and the fix. Check a local path exists (check_local) first."""
    try:
        yield
    except (OSError, ValueError) as err:
        if is_local(ref):
            raise SourceError(f"{what} {ref!r} is not a loadable folder: {err}") from err
        if not isinstance(err, OSError):
            raise
        raise SourceError(
            f"{what} {ref!r} could not be loaded from the Hugging Face Hub ({err}). "
            f"Offline? Point it at a local folder: dvc exp run -S {what}=PATH"
        ) from err
