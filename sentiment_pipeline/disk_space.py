"""Free disk space, checked before the stages that write large outputs.

DVC reports a full cache as success: it prints "No space left on device", then
"Ran experiment(s)", and exits 0 with the output not cached. So the validate,
tokenize and train stages look first, and stop with one line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sentiment_pipeline.errors import PipelineInputError

# what a full-data run writes (tokenized data, checkpoints with optimizer state, the model,
# their copies in the DVC cache), with room to spare: DVC itself reports a full cache as
# success (it prints "No space left on device", then exits 0 with the output uncached)
MIN_FREE_BYTES = 3 * 10**9
MIN_FREE_ENV = "SENTIMENT_PIPELINE_MIN_FREE_GB"  # another threshold, e.g. 0.2 for the tiny runs of the tests


def check_free_space(min_free: int | None = None) -> None:
    """A PipelineInputError when the workspace or the DVC cache has less than
    `min_free` bytes free (default: MIN_FREE_ENV, else MIN_FREE_BYTES); run before
    the stages that write large outputs."""
    if min_free is None:
        min_free = int(float(os.environ.get(MIN_FREE_ENV, MIN_FREE_BYTES / 1e9)) * 1e9)
    root = Path(os.environ.get("DVC_ROOT") or Path.cwd())
    places = {"the workspace": Path.cwd()}
    try:
        from dvc.repo import Repo

        places["the DVC cache"] = Path(Repo(str(root)).cache.local.path)
    except Exception:  # not a DVC repository (a test's folder): the workspace is what there is
        pass
    for what, path in places.items():
        existing = next(p for p in (path, *path.parents) if p.exists())
        free = shutil.disk_usage(existing).free
        if free < min_free:
            raise PipelineInputError(
                f"{what} ({existing}) has {free / 1e9:.1f} GB free, less than the {min_free / 1e9:.0f} GB a run "
                "may write: free some space (dvc gc -w removes cache entries no commit uses)"
            )
