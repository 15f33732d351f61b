"""In which numeric precision a device trains.

`train.precision` is resolved here once, before any model is loaded, so an
impossible request (fp16 on a CPU, bf16 on a GPU without it) fails with a
message that names the param instead of deep inside torch. The Trainer then
does the mixed precision itself (autocast, and a grad scaler for fp16).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sentiment_pipeline.config import ParamsError


@dataclass(frozen=True)
class Precision:
    device: str  # cuda | mps | cpu
    dtype: str  # fp32 | bf16 | fp16

    @property
    def bf16(self) -> bool:
        return self.dtype == "bf16"

    @property
    def fp16(self) -> bool:
        return self.dtype == "fp16"


def _bf16_supported(device: str) -> bool:
    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    if device == "mps":
        return torch.amp.autocast_mode.is_autocast_available("mps") and torch.backends.mps.is_macos_or_newer(14, 0)
    return True  # CPU autocast supports bf16 (slow without AVX512-BF16/AMX, hence not the CPU default)


def resolve_precision(precision: str, device: str) -> Precision:
    """`train.precision` for `device` (already resolved):

    - auto: bf16 on CUDA where supported, else fp16 (with a grad scaler);
      fp16 on MPS; fp32 on CPU.
    - fp32 / bf16 / fp16 as asked, or a ParamsError when the device cannot.
    """
    if precision == "auto":
        if device == "cuda":
            return Precision(device, "bf16" if _bf16_supported(device) else "fp16")
        if device == "mps":
            return Precision(device, "fp16")
        return Precision(device, "fp32")
    if precision == "fp16" and device == "cpu":
        raise ParamsError(
            "train.precision=fp16 needs a CUDA or MPS device, and this run is on the CPU: "
            "use -S train.precision=bf16 or fp32"
        )
    if precision == "bf16" and not _bf16_supported(device):
        raise ParamsError(
            f"train.precision=bf16 is not supported on this {device} device: "
            "use -S train.precision=fp16 or fp32 (or auto)"
        )
    return Precision(device, precision)
