"""train.precision resolved against the device, impossible requests refused up front."""

import pytest

from sentiment_pipeline import precision as prec
from sentiment_pipeline.config import ParamsError


def test_auto_on_a_cpu_follows_its_bf16_units(monkeypatch):
    # both paths on any machine: the probe is forced, not read off this CPU
    monkeypatch.setattr(prec, "cpu_has_fast_bf16", lambda: True)
    assert prec.resolve_precision("auto", "cpu").dtype == "bf16"
    monkeypatch.setattr(prec, "cpu_has_fast_bf16", lambda: False)
    assert prec.resolve_precision("auto", "cpu").dtype == "fp32"


def test_the_cpu_probe_is_torchs_amx_and_avx512_bf16_probes(monkeypatch):
    for amx, avx512_bf16 in [(False, False), (True, False), (False, True), (True, True)]:
        monkeypatch.setattr(prec.torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        monkeypatch.setattr(prec.torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        assert prec.cpu_has_fast_bf16() is (amx or avx512_bf16)


def test_autocast_computes_matmuls_in_the_resolved_dtype():
    a, b = prec.torch.randn(4, 8), prec.torch.randn(8, 3)
    with prec.autocast(prec.Precision("cpu", "bf16")):
        assert (a @ b).dtype == prec.torch.bfloat16
    with prec.autocast(prec.Precision("cpu", "fp32")):
        assert (a @ b).dtype == prec.torch.float32


def test_the_setting_is_named_in_the_error():
    with pytest.raises(ParamsError, match="^precision=fp16 needs a CUDA"):
        prec.resolve_precision("fp16", "cpu", setting="precision")
    with pytest.raises(ParamsError, match="precision='int4' is not one of"):
        prec.resolve_precision("int4", "cpu", setting="precision")


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


def test_training_attention_is_eager_only_for_bf16_on_a_cpu():
    # the CPU's fused attention backward is slow in bf16 (bench/speed.py); sdpa everywhere else
    assert prec.resolve_attention("auto", prec.Precision("cpu", "bf16")) == "eager"
    assert prec.resolve_attention("auto", prec.Precision("cpu", "fp32")) == "sdpa"
    assert prec.resolve_attention("auto", prec.Precision("cuda:0", "bf16")) == "sdpa"
    assert prec.resolve_attention("sdpa", prec.Precision("cpu", "bf16")) == "sdpa"
    assert prec.resolve_attention("eager", prec.Precision("cuda", "fp16")) == "eager"
