"""In which numeric precision a device trains and predicts.

`train.precision` (and the analyzer's `precision`) is resolved here once,
before any model is loaded, so an impossible request (fp16 on a CPU, bf16 on a
GPU without it) fails with a message that names the setting instead of deep
inside torch. `auto` asks the hardware at run time, since machines differ from
one run to the next: bf16 on a GPU that has it, and on a CPU with bf16 matrix
units (AMX or AVX512-BF16: several times the fp32 matmul rate); fp32 on any
other CPU. The Trainer then does the mixed precision itself (autocast, and a
grad scaler for fp16); prediction runs under `autocast(precision)`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from sentiment_pipeline.config import ParamsError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    device: str  # cuda | mps | cpu (or cuda:N)
    dtype: str  # fp32 | bf16 | fp16

    @property
    def bf16(self) -> bool:
        return self.dtype == "bf16"

    @property
    def fp16(self) -> bool:
        return self.dtype == "fp16"


def cpu_has_fast_bf16() -> bool:
    """True when this CPU multiplies bf16 matrices in hardware: AMX tiles or
    AVX512-BF16 (torch's own CPU feature probes). Elsewhere bf16 autocast is
    emulated and slower than fp32."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def _bf16_supported(device: str) -> bool:
    kind = device.split(":")[0]
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    if kind == "mps":
        return torch.amp.autocast_mode.is_autocast_available("mps") and torch.backends.mps.is_macos_or_newer(14, 0)
    return True  # CPU autocast supports bf16 everywhere (emulated, so slow, without bf16 units)


def resolve_precision(precision: str, device: str, setting: str = "train.precision") -> Precision:
    """`precision` for `device` (already resolved); `setting` names it in errors:

    - auto: bf16 on CUDA where supported, else fp16 (with a grad scaler);
      fp16 on MPS; on a CPU bf16 where it has bf16 units (cpu_has_fast_bf16), else fp32.
    - fp32 / bf16 / fp16 as asked, or a ParamsError when the device cannot.
    """
    kind = device.split(":")[0]
    if precision == "auto":
        if kind == "cuda":
            return Precision(device, "bf16" if _bf16_supported(device) else "fp16")
        if kind == "mps":
            return Precision(device, "fp16")
        return Precision(device, "bf16" if cpu_has_fast_bf16() else "fp32")
    if precision not in ("fp32", "bf16", "fp16"):
        raise ParamsError(f"{setting}={precision!r} is not one of auto, fp32, bf16, fp16")
    if precision == "fp16" and kind == "cpu":
        raise ParamsError(f"{setting}=fp16 needs a CUDA or MPS device, and this run is on the CPU: use bf16 or fp32")
    if precision == "bf16" and not _bf16_supported(device):
        raise ParamsError(f"{setting}=bf16 is not supported on this {device} device: use fp16 or fp32 (or auto)")
    return Precision(device, precision)


def resolve_attention(setting: str, precision: Precision) -> str:
    """`train.attn_implementation` for training: auto is eager for bf16 on a CPU,
    where torch's fused (flash) attention backward runs slower than the plain
    matmuls (bench/speed.py), and sdpa everywhere else."""
    if setting != "auto":
        return setting
    return "eager" if precision.bf16 and precision.device.split(":")[0] == "cpu" else "sdpa"


def autocast(precision: Precision) -> contextlib.AbstractContextManager:
    """Mixed-precision autocast for prediction (a no-op for fp32): matmuls in
    bf16/fp16, reductions and softmax kept in fp32 by torch's autocast lists."""
    if precision.dtype == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=precision.device.split(":")[0], dtype=DTYPES[precision.dtype])
