"""Running the train stage as several DistributedDataParallel processes.

The Trainer (through accelerate) does the distributed work when started by
``torchrun``: one process per GPU (nccl) or per CPU slot (gloo), gradients
all-reduced, validation predictions gathered before the metrics, batches of the
length-grouped order sharded across ranks. This module only answers "am I
rank 0?" (only rank 0 writes outputs and logs to MLflow) and starts torchrun
for `train.processes` > 1, so `dvc repro` and `dvc exp run -S train.processes=4`
need no other command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


def launched_by_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def relaunch_with_torchrun(module: str, processes: int, args: Sequence[str] = ()) -> int:
    """Run ``python -m <module> <args>`` as `processes` torchrun workers on this machine
    (``--standalone``: a free rendezvous port, so parallel runs do not collide);
    return their exit status."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        module,
        *args,
    ]
    print("starting", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd)
