"""Hub id or local path: one rule for every `source`/`name` the pipeline accepts."""

from __future__ import annotations

from pathlib import Path


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
