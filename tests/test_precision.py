"""train.precision resolved against the device, impossible requests refused up front."""

import pytest

from sentiment_pipeline.config import ParamsError
from sentiment_pipeline.training import precision as prec


def test_auto_is_fp32_on_cpu():
    assert prec.resolve_precision("auto", "cpu").dtype == "fp32"


def test_auto_on_cuda_prefers_bf16_then_fp16(monkeypatch):
    monkeypatch.setattr(prec.torch.cuda, "is_bf16_supported", lambda: True)
    assert prec.resolve_precision("auto", "cuda").bf16
    monkeypatch.setattr(prec.torch.cuda, "is_bf16_supported", lambda: False)
    assert prec.resolve_precision("auto", "cuda").fp16


def test_fp16_on_cpu_is_a_params_error():
    with pytest.raises(ParamsError, match="train.precision=fp16"):
        prec.resolve_precision("fp16", "cpu")


def test_bf16_on_a_gpu_without_it_is_a_params_error(monkeypatch):
    monkeypatch.setattr(prec.torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(ParamsError, match="bf16 is not supported"):
        prec.resolve_precision("bf16", "cuda")


def test_explicit_choices_pass_through():
    assert prec.resolve_precision("bf16", "cpu").bf16
    assert prec.resolve_precision("fp32", "cpu").dtype == "fp32"


def test_device_cpu_is_honoured(monkeypatch):
    from sentiment_pipeline import device

    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: True)
    assert device.resolve_device("cpu") == "cpu"
    assert device.resolve_device("auto") == "cuda"
