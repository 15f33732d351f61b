"""Which device runs a model: `train.device` and the analyzer's `device`."""

from __future__ import annotations

import torch

from sentiment_pipeline.errors import PipelineInputError


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(device: str) -> str:
    """auto -> cuda, else mps, else cpu; cpu -> cpu."""
    if device == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if mps_available():
        return "mps"
    return "cpu"


def check_device(device: str) -> None:
    """A PipelineInputError, before anything loads, for a device this machine lacks."""
    kind, _, index = str(device).partition(":")
    if kind == "cpu" and not index:
        return
    if kind == "cuda" and torch.cuda.is_available():
        if not index or (index.isdigit() and int(index) < torch.cuda.device_count()):
            return
        raise PipelineInputError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if kind == "mps" and not index and mps_available():
        return
    raise PipelineInputError(f"device {device!r} is not available here: use auto or cpu")
