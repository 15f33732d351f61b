"""SentimentAnalyzer (Python API) on models the train stage wrote: loading,
precision, temperature, batching, and the bad inputs users send. The CLI on the
same models: tests/inference/test_analyzer_cli.py."""

import shutil

import numpy as np
import pandas as pd
import pytest
from datasets import load_from_disk

from sentiment_pipeline import paths
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.evaluation.calibration import probabilities
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from sentiment_pipeline.inference.predictor import predict_folder
from sentiment_pipeline.models.artifact import ModelArtifact
from tests.helpers import train_workspace


def _test_texts(root):
    return pd.read_parquet(root / "data/clean/test.parquet")["text"].tolist()


def test_predict_batch_matches_the_evaluate_stage(trained):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", precision="fp32")
    texts = _test_texts(trained)
    got = np.array([p.scores["pos"] for p in analyzer.predict_batch(texts, batch_size=7)])
    margins, _ = predict_folder(trained / paths.MODEL_DIR, load_from_disk(str(trained / paths.TOKENIZED_DIR))["test"])
    expected = probabilities(margins, analyzer.artifact.temperature)
    np.testing.assert_allclose(got, expected, atol=1e-5)  # same cleaning, truncation, order, temperature


def test_bf16_prediction_runs_in_bf16_and_agrees_with_fp32(trained):
    import torch

    texts = _test_texts(trained)
    fp32 = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", precision="fp32")
    bf16 = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    dtypes = set()
    head = [m for m in bf16.model.modules() if isinstance(m, torch.nn.Linear)][-1]
    head.register_forward_hook(lambda module, args, output: dtypes.add(output.dtype))
    low, full = bf16.predict_proba(texts), fp32.predict_proba(texts)
    assert dtypes == {torch.bfloat16}
    assert np.ptp(full) > 0.2  # the model tells these reviews apart, so agreement means something
    assert not np.array_equal(low, full)
    assert np.mean((low >= 0.5) == (full >= 0.5)) >= 0.95 and np.mean(np.abs(low - full)) < 0.02


def test_auto_precision_follows_the_cpus_bf16_units(trained, monkeypatch):
    from sentiment_pipeline import precision

    for has_units, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda v=has_units: v)
        assert SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu").precision == expected
    int8 = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", quantize="int8")
    assert int8.precision == "fp32"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"precision": "fp16"}, "precision=fp16 needs a CUDA or MPS device"),
        ({"precision": "half"}, "precision must be one of auto, fp32, bf16, fp16"),
        ({"precision": "bf16", "quantize": "int8"}, "quantize='int8' runs in fp32"),
    ],
)
def test_impossible_precisions_are_refused_before_loading(trained, kwargs, message):
    with pytest.raises(PipelineInputError, match=message):
        SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", **kwargs)


def test_the_model_folders_temperature_is_applied_and_changes_no_label(trained, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained / paths.MODEL_DIR, folder)
    artifact = ModelArtifact.read(folder)
    assert artifact.temperature != 1.0  # train fitted one on the validation split
    texts = _test_texts(trained)
    scaled = SentimentAnalyzer.from_pretrained(folder, device="cpu")
    margins = scaled.margins(texts)
    np.testing.assert_allclose(scaled.predict_proba(texts), probabilities(margins, artifact.temperature))
    ModelArtifact(**{**artifact.__dict__, "temperature": 4.0}).write(folder)
    hotter = SentimentAnalyzer.from_pretrained(folder, device="cpu").predict_batch(texts)
    before = scaled.predict_batch(texts)
    assert [p.label for p in hotter] == [p.label for p in before]
    assert all(abs(h.scores["pos"] - 0.5) <= abs(b.scores["pos"] - 0.5) + 1e-12 for h, b in zip(hotter, before))


def test_predict_returns_label_confidence_and_both_scores(trained):
    analyzer = SentimentAnalyzer.from_pretrained(str(trained / paths.MODEL_DIR), device="cpu")
    one = analyzer.predict("<b>great</b> wonderful film, superb cast")
    assert one.label in ("neg", "pos") and set(one.scores) == {"neg", "pos"}
    assert one.confidence == one.scores[one.label] >= 0.5
    assert abs(sum(one.scores.values()) - 1) < 1e-6
    # cleaning as in the pipeline: the HTML tag does not change the prediction
    assert analyzer.predict("great wonderful film, superb cast").scores == pytest.approx(one.scores)


def test_batch_order_is_kept_whatever_the_lengths(trained):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    texts = ["awful " * n for n in (1, 50, 3, 200, 7)] + ["great " * n for n in (100, 2)]
    batched = analyzer.predict_batch(texts, batch_size=3)
    alone = [analyzer.predict(t) for t in texts]
    assert [b.scores["pos"] for b in batched] == pytest.approx([a.scores["pos"] for a in alone], abs=1e-5)


@pytest.mark.parametrize(
    "texts, message",
    [
        (["fine", ""], "text 1 is empty"),
        (["fine", "   \n\t"], "text 1 is empty or whitespace only"),
        (["fine", "<br /><br />"], r"text 1 is empty after cleaning \(only HTML tags or invisible characters\)"),
        (["fine", 42], "text 1 is a int, not a string"),
        (["fine", None], "text 1 is a NoneType"),
        ("just one string", "expected a list of texts, got str"),
    ],
)
def test_bad_texts_are_refused_naming_the_item(trained, texts, message):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    with pytest.raises(PipelineInputError, match=message):
        analyzer.predict_batch(texts)


@pytest.mark.parametrize(
    "texts, message",
    [
        ({"great film": 1}, "expected a list of texts, got dict"),
        ({"great film"}, "expected a list of texts, got set"),
        (["x" * 2_000_001], "text 0 has 2,000,001 characters, more than the limit"),
        (["fine", "\u200b\ufeff"], "text 1 is empty after cleaning"),
    ],
)
def test_the_api_refuses_mappings_huge_and_invisible_texts(trained, texts, message):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    with pytest.raises(PipelineInputError, match=message):
        analyzer.predict_batch(texts)


def test_a_one_megabyte_review_is_truncated_like_in_training(trained):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    huge = "great film " * 100_000  # 1.1 MB
    assert len(huge) > 1_000_000
    assert len(analyzer.encoder([huge])[0]) == 64  # tokenize.max_length of the fixture model
    assert analyzer.token_count(huge) > 100_000 and analyzer.token_budget == 62  # less [CLS], [SEP]
    assert analyzer.predict(huge).label in ("neg", "pos")


@pytest.mark.slow
def test_a_batch_of_100000_texts_is_chunked_and_kept_in_order(trained, monkeypatch):
    from sentiment_pipeline.models import network

    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    distinct = ["great superb film", "awful dull mess", "a film", "great " * 30 + "but awful"]
    texts = [distinct[i % 4] for i in range(100_000)]
    encoded_sizes = []
    encode = analyzer.loaded.encoder
    monkeypatch.setattr(analyzer.loaded, "encoder", lambda chunk: encoded_sizes.append(len(chunk)) or encode(chunk))
    predictions = analyzer.predict_batch(texts, batch_size=256)
    assert len(predictions) == 100_000
    assert max(encoded_sizes) == network.CHUNK_TEXTS and sum(encoded_sizes) == 100_000
    alone = [analyzer.predict(t).scores["pos"] for t in distinct]
    got = [p.scores["pos"] for p in predictions]
    for i in (0, 1, 2, 3, 4097, 50_001, 99_998, 99_999):
        assert got[i] == pytest.approx(alone[i % 4], abs=1e-5), i


def test_unknown_and_corrupted_models_are_named(trained, tmp_path):
    with pytest.raises(PipelineInputError, match="does not exist"):
        SentimentAnalyzer.from_pretrained(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(trained / paths.MODEL_DIR, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(PipelineInputError, match="corrupted or incomplete model folder"):
        SentimentAnalyzer.from_pretrained(broken)


def test_tfidf_model_through_the_same_api(tmp_path, tokenized_workspace, monkeypatch):
    root = train_workspace(tmp_path / "ws", tokenized_workspace, type="tfidf_logreg")
    analyzer = SentimentAnalyzer.from_pretrained(root / paths.MODEL_DIR)
    predictions = analyzer.predict_batch(["a great wonderful superb film", "awful boring terrible mess"])
    assert [p.label for p in predictions] == ["pos", "neg"]
