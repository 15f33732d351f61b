"""Which device runs a model: `train.device` and the analyzer's `device`."""

from __future__ import annotations

import torch


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
