"""int8 inference on a CPU: dynamic quantization of a trained network."""

from __future__ import annotations

import torch


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization: nn.Linear with per-output-channel weight scales,
    nn.LSTM with PyTorch's default. Per-channel scales flip fewer labels against
    fp32 than one scale per tensor, at the same speed (docs/using-the-model.md). PyTorch's eager-mode API: it is
    deprecated in favour of torchao, which is not a dependency here; the warning
    it prints on import is silenced."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

        spec = {torch.nn.Linear: per_channel_dynamic_qconfig, torch.nn.LSTM: default_dynamic_qconfig}
        return quantize_dynamic(model, spec, dtype=torch.qint8)
