"""Where a bad value in params.yaml came from: the params that differ from git HEAD's.

A failed `dvc exp run -S key=value` can leave its value in the workspace's
params.yaml; the stage that refuses it then says so, with the way back.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sentiment_pipeline.config import read_yaml
from sentiment_pipeline.errors import PipelineInputError


def params_changed_since_head(path: Path = Path("params.yaml")) -> list[str]:
    """The dotted params in which the workspace's params.yaml differs from git HEAD's
    (empty outside git, in DVC's temporary experiment copies, or when unreadable)."""
    root = os.environ.get("DVC_ROOT")
    if root and Path(root).resolve() != Path.cwd().resolve():
        return []  # a queued or --temp experiment: its params differ from HEAD by design
    try:
        head = subprocess.run(
            ["git", "show", f"HEAD:{path}"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
        old, new = _flat(read_yaml(head)), _flat(read_yaml(path.read_text()))
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return []
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in (tree or {}).items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def explained(err: PipelineInputError, path: Path = Path("params.yaml")) -> PipelineInputError:
    """`err`, naming the params that differ from HEAD when there are any (else `err` itself)."""
    changed = params_changed_since_head(path)
    if not changed:
        return err
    return type(err)(
        f"{err}\n(params.yaml differs from git HEAD in {', '.join(changed)}: a failed `dvc exp run -S` "
        "leaves its values there; `git checkout params.yaml` restores HEAD's)"
    )
