"""model.type: the BiLSTM and TF-IDF baselines, and transformers of four
architectures, each through the same tokenize -> train -> evaluate stages."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from datasets import Dataset, load_from_disk
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from sentiment_pipeline import paths
from sentiment_pipeline.config import Params
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.models import tfidf, tfidf_kind
from sentiment_pipeline.models.bilstm import BiLSTMConfig, BiLSTMForSequenceClassification
from sentiment_pipeline.training.fit import dataset_loss
from tests.fixtures import make_tiny_transformer, training_run
from tests.helpers import run_stages


def workspace_for(tmp_path, tokenized_workspace, **model):
    """A copy of the cleaned fixture workspace with `model.*` params set."""
    root = tmp_path / "ws"
    shutil.copytree(tokenized_workspace / "data" / "clean", root / "data" / "clean")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    for key, value in model.items():
        if isinstance(value, dict):
            params["model"][key].update(value)
        else:
            params["model"][key] = value
    params["train"]["epochs"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def assert_evaluated_as_predicted(root):
    """metrics/eval.json agrees with the evaluate stage's per-review predictions, and
    those are what the analyzer (the API, CLI and served model) says of the same reviews."""
    from sentiment_pipeline.inference.analyzer import SentimentAnalyzer

    evaluation = json.loads((root / paths.EVAL_METRICS).read_text())
    predictions = pd.read_csv(root / paths.PREDICTIONS)
    assert evaluation["n_examples"] == len(predictions) == 60
    assert evaluation["accuracy"] == pytest.approx((predictions["label"] == predictions["predicted"]).mean())
    texts = pd.read_parquet(root / "data/clean/test.parquet")[paths.TEXT].tolist()
    analyzer = SentimentAnalyzer.from_pretrained(root / paths.MODEL_DIR, device="cpu", precision="fp32")
    np.testing.assert_allclose(analyzer.predict_proba(texts), predictions["prob_pos_scaled"], atol=1e-5)


def model_files_mb(model_dir) -> float:
    """What the model loads, in MB: the folder but its card (README.md, written after the size)."""
    return round(sum(f.stat().st_size for f in model_dir.rglob("*") if f.name != "README.md") / 1e6, 3)


def mlflow_run(root):
    return training_run(root)


# -- BiLSTM -------------------------------------------------------------------


def test_bilstm_ignores_padding():
    torch.manual_seed(0)
    config = BiLSTMConfig(vocab_size=50, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0, num_labels=2)
    model = BiLSTMForSequenceClassification(config).eval()
    ids = torch.tensor([[5, 7, 9, 11]])
    alone = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    padded = torch.tensor([[5, 7, 9, 11, 0, 0, 0], [3, 4, 5, 6, 7, 8, 9]])
    batched = model(input_ids=padded, attention_mask=(padded != 0).long()).logits
    torch.testing.assert_close(batched[0], alone[0])
    # the backward direction starts at the last real token, not at the padding
    no_mask = model(input_ids=padded[:1], attention_mask=torch.ones_like(padded[:1])).logits
    assert not torch.allclose(no_mask[0], alone[0])


def test_bilstm_vocabulary_is_learnt_from_train_only(tmp_path, tokenized_workspace, monkeypatch):
    root = workspace_for(tmp_path, tokenized_workspace, type="bilstm", bilstm={"min_frequency": 1})
    test = pd.read_parquet(root / "data/clean/test.parquet")
    test.loc[0, "text"] = "zyzzyva " + test.loc[0, "text"]  # a word no train review has
    test.to_parquet(root / "data/clean/test.parquet", index=False)
    run_stages(root, "tokenize")

    tokenizer = AutoTokenizer.from_pretrained(root / paths.TOKENIZER_DIR)
    vocab = tokenizer.get_vocab()
    assert "zyzzyva" not in vocab and "masterpiece" in vocab
    first = load_from_disk(str(root / paths.TOKENIZED_DIR))["test"][0]["input_ids"]
    assert first[0] == tokenizer.unk_token_id
    assert "token_type_ids" not in load_from_disk(str(root / paths.TOKENIZED_DIR))["train"].column_names


@pytest.mark.slow
def test_bilstm_trains_and_evaluates_through_the_stages(tmp_path, tokenized_workspace, monkeypatch):
    root = workspace_for(
        tmp_path,
        tokenized_workspace,
        type="bilstm",
        bilstm={"embedding_dim": 16, "hidden_size": 16, "min_frequency": 1},
    )
    run_stages(root, "tokenize", "train", "evaluate")
    model_dir = root / paths.MODEL_DIR
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)  # via the registered Auto type
    assert isinstance(model, BiLSTMForSequenceClassification)
    assert model.lstm.num_layers == 2 and model.lstm.bidirectional
    saved = json.loads((model_dir / "sentiment_pipeline.json").read_text())
    assert saved["model_type"] == "bilstm"
    train = json.loads((root / paths.TRAIN_METRICS).read_text())
    assert train["n_parameters"] == sum(p.numel() for p in model.parameters())
    assert train["model_size_mb"] == model_files_mb(model_dir)
    assert_evaluated_as_predicted(root)
    run = mlflow_run(root)
    assert run.data.tags["model_type"] == "bilstm"
    assert run.data.params["model.bilstm.hidden_size"] == "16"
    assert "test_accuracy" in run.data.metrics


# -- TF-IDF + logistic regression ----------------------------------------------


@pytest.mark.slow
def test_tfidf_logreg_through_the_stages_without_pickle(tmp_path, tokenized_workspace, monkeypatch):
    root = workspace_for(tmp_path, tokenized_workspace, type="tfidf_logreg")
    run_stages(root, "tokenize", "train", "evaluate", "plot")
    tokenized = load_from_disk(str(root / paths.TOKENIZED_DIR))
    assert "text" in tokenized["train"].column_names and not any(tokenized["test"]["truncated"])
    model_dir = root / paths.MODEL_DIR
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        [*tfidf.MODEL_FILES, "sentiment_pipeline.json", "README.md"]
    )
    evaluation = json.loads((root / paths.EVAL_METRICS).read_text())
    assert evaluation["accuracy"] >= 0.9  # the cue words make the fixture easy for a bag of n-grams
    assert_evaluated_as_predicted(root)
    history = pd.read_csv(root / paths.TRAIN_HISTORY)
    assert len(history) == 1 and history.loc[0, "val_f1"] > 0.8
    assert (root / "plots/roc_curve.png").is_file()
    run = mlflow_run(root)
    assert run.data.tags["model_type"] == "tfidf_logreg"
    assert run.data.params["model.tfidf_logreg.C"] == "4.0"
    assert {"val_f1", "test_accuracy", "best_val_f1", "n_parameters"} <= set(run.data.metrics)


def _toy_train():
    rng = np.random.default_rng(0)
    words = ["good", "bad", "film", "plot", "great", "awful", "fine", "meh"]
    texts = [" ".join(rng.choice(words, size=rng.integers(2, 40))) for _ in range(200)]
    labels = [int(t.count("good") + t.count("great") > t.count("bad") + t.count("awful")) for t in texts]
    return Dataset.from_dict({"text": texts, "label": labels, "n_words": [len(t.split()) for t in texts]})


def _params(length_weight, confidence_penalty):
    return Params.model_validate(
        {
            "model": {"type": "tfidf_logreg", "tfidf_logreg": {"min_df": 1}},
            "train": {"loss": {"length_weight": length_weight, "confidence_penalty": confidence_penalty}},
        }
    )


def _fit(params, train):
    return tfidf_kind.fit(params, train, dataset_loss(params, train))  # as training fits the kind


def test_tfidf_logreg_without_loss_terms_is_plain_logistic_regression():
    train = _toy_train()
    model = _fit(_params(0, 0), train)
    plain = LogisticRegression(C=4.0, max_iter=1000, random_state=42).fit(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, dtype=np.float32).fit_transform(train["text"]),
        train["label"],
    )
    np.testing.assert_allclose(model.named_steps["logreg"].coef_, plain.coef_, rtol=1e-5, atol=1e-6)


def test_tfidf_logreg_applies_both_loss_weights():
    train = _toy_train()
    coef = {key: _fit(_params(*key), train).named_steps["logreg"].coef_ for key in [(0, 0), (1, 0), (0, 2)]}
    assert not np.allclose(coef[(1, 0)], coef[(0, 0)])  # length weights reach the fit
    assert not np.allclose(coef[(0, 2)], coef[(0, 0)])  # and so does the confidence penalty


def test_tfidf_logreg_saves_plain_arrays_and_loads_the_same_model(tmp_path):
    train = _toy_train()
    model = _fit(_params(0.5, 1.0), train)
    tfidf.save(model, tmp_path)
    loaded = tfidf.load(tmp_path)
    np.testing.assert_array_equal(tfidf.predict_proba(loaded, train["text"]), tfidf.predict_proba(model, train["text"]))
    terms = json.loads((tmp_path / tfidf.VOCABULARY_FILE).read_text())
    assert len(terms) == len(model.named_steps["tfidf"].vocabulary_) and "good good" in terms


def test_tfidf_logreg_refuses_a_corrupted_model_folder(tmp_path):
    model = _fit(_params(0, 0), _toy_train())
    tfidf.save(model, tmp_path)
    terms = json.loads((tmp_path / tfidf.VOCABULARY_FILE).read_text())
    (tmp_path / tfidf.VOCABULARY_FILE).write_text(json.dumps(terms[:-1]))  # one term short
    with pytest.raises(PipelineInputError, match="corrupted tfidf_logreg model"):
        tfidf.load(tmp_path)
    (tmp_path / tfidf.WEIGHTS_FILE).unlink()
    with pytest.raises(PipelineInputError, match="missing tfidf_logreg.safetensors"):
        tfidf.load(tmp_path)


# -- transformers of several architectures ---------------------------------------


@pytest.mark.parametrize(
    "arch, head",
    [
        ("bert", "BertForSequenceClassification"),
        ("distilbert", "DistilBertForSequenceClassification"),
        ("albert", "AlbertForSequenceClassification"),
        ("roberta", "RobertaForSequenceClassification"),
    ],
)
@pytest.mark.slow
def test_transformer_architectures_run_through_the_pipeline(
    arch, head, tmp_path, tokenized_workspace, imdb_dir, monkeypatch
):
    corpus = pd.read_parquet(imdb_dir / "plain_text" / "train-00000-of-00001.parquet")["text"].tolist()
    model_src = make_tiny_transformer(arch, tmp_path / f"tiny-{arch}", corpus)
    root = workspace_for(tmp_path, tokenized_workspace, type="transformer", name=str(model_src))
    run_stages(root, "tokenize", "train", "evaluate")
    model_dir = root / paths.MODEL_DIR
    assert AutoConfig.from_pretrained(model_dir).architectures == [head]
    assert_evaluated_as_predicted(root)
    train = json.loads((root / paths.TRAIN_METRICS).read_text())
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    assert train["n_parameters"] == sum(p.numel() for p in model.parameters())
    assert train["model_size_mb"] == model_files_mb(model_dir)
    assert mlflow_run(root).data.tags["model_name"] == str(model_src)


def test_predicting_from_a_folder_that_is_no_model_names_it(tmp_path):
    from sentiment_pipeline.inference.predictor import predict_folder as predict_proba

    with pytest.raises(PipelineInputError, match="not a model folder of this pipeline"):
        predict_proba(tmp_path, Dataset.from_dict({"text": ["fine"]}))
    (tmp_path / "sentiment_pipeline.json").write_text("{oops")
    with pytest.raises(PipelineInputError, match="not valid JSON"):
        predict_proba(tmp_path, Dataset.from_dict({"text": ["fine"]}))
