"""int8 inference: the quantized model loads with int8 linear layers and agrees
with fp32 on most reviews. Its speed is measured by bench/inference.py, not here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.ao.nn.quantized import dynamic as qdynamic

from sentiment_pipeline import paths
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer


@pytest.fixture(scope="module")
def pair(trained_workspace):
    folder = trained_workspace / paths.MODEL_DIR
    fp32 = SentimentAnalyzer.from_pretrained(folder, device="cpu", precision="fp32")
    int8 = SentimentAnalyzer.from_pretrained(folder, device="cpu", quantize="int8")
    return fp32, int8


def test_every_linear_layer_is_int8_and_the_fp32_model_is_untouched(pair):
    fp32, int8 = pair
    float_linears = [m for m in fp32.model.modules() if type(m) is torch.nn.Linear]
    int8_linears = [m for m in int8.model.modules() if isinstance(m, qdynamic.Linear)]
    assert len(float_linears) > 0 and len(int8_linears) == len(float_linears)
    assert not [m for m in int8.model.modules() if type(m) is torch.nn.Linear]
    assert all(m.weight().dtype == torch.qint8 for m in int8_linears)


def test_int8_agrees_with_fp32_on_most_reviews(pair, imdb_dir):
    fp32, int8 = pair
    texts = pd.read_parquet(imdb_dir / "plain_text" / "test-00000-of-00001.parquet")[paths.TEXT].tolist()
    p32, p8 = fp32.predict_proba(texts), int8.predict_proba(texts)
    assert len(np.unique(np.round(p32, 3))) > len(texts) // 2  # the model tells reviews apart
    assert not np.array_equal(p32, p8)  # the int8 path really ran
    assert np.mean((p32 >= 0.5) == (p8 >= 0.5)) >= 0.9
    assert np.mean(np.abs(p32 - p8)) < 0.05


def test_int8_is_refused_where_it_cannot_run(trained_workspace):
    folder = trained_workspace / paths.MODEL_DIR
    with pytest.raises(PipelineInputError, match="runs on the CPU"):
        SentimentAnalyzer.from_pretrained(folder, device="cuda", quantize="int8")
    with pytest.raises(PipelineInputError, match="quantize must be None or 'int8'"):
        SentimentAnalyzer.from_pretrained(folder, device="cpu", quantize="int4")
