"""models/kinds.py owns model.type: a fourth kind, registered here and nowhere
else, runs through tokenize -> train -> evaluate -> the analyzer unchanged."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import mlflow
import numpy as np
import pytest
import torch
import yaml
from datasets import DatasetDict

from sentiment_pipeline import paths
from sentiment_pipeline.config import ModelParams, Params
from sentiment_pipeline.evaluation.metrics import classification_metrics
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from sentiment_pipeline.models import kinds
from sentiment_pipeline.models.kinds import LoadedModel, ModelKind
from tests.helpers import run_stages

WEIGHTS = "word_log_odds.json"


def _words(text: str) -> list[str]:
    return text.lower().split()


class WordLogOddsKind(ModelKind):
    """A naive-Bayes-like model: each word's smoothed log-odds of pos vs neg,
    counted with the custom loss's length weights; a review's margin is their mean."""

    uses_trainer = False

    def tokenize(self, params, clean):
        lengths = lambda batch: {  # the length columns every kind's data carries
            paths.N_WORDS: [len(_words(t)) for t in batch[paths.TEXT]],
            paths.N_TOKENS: [len(_words(t)) for t in batch[paths.TEXT]],
            paths.LENGTH: [len(_words(t)) for t in batch[paths.TEXT]],
            paths.TRUNCATED: [False] * len(batch[paths.TEXT]),
        }
        return DatasetDict({s: clean[s].map(lengths, batched=True) for s in paths.SPLITS}), None

    def fit(self, params, tokenized, loss_fn):
        train, val = tokenized["train"], tokenized["validation"]
        weights = loss_fn.length_weights(torch.tensor(train[paths.N_WORDS], dtype=torch.float64)).numpy()
        counts = {0: Counter(), 1: Counter()}
        for text, label, weight in zip(train[paths.TEXT], train[paths.LABEL], weights):
            for word in _words(text):
                counts[label][word] += weight
        model = {w: float(np.log((counts[1][w] + 1) / (counts[0][w] + 1))) for w in counts[0] | counts[1]}
        margins = self._margins(model, val[paths.TEXT])
        scores = classification_metrics(np.asarray(val[paths.LABEL]), 1 / (1 + np.exp(-margins)))
        row = {"epoch": 1, "step": 1, "train_loss": 0.0, "val_loss": 0.0}
        row |= {f"val_{k}": v for k, v in scores.items() if v is not None}
        return model, row | {"epoch_time_s": 0.01, "epoch_examples_per_s": 1.0, "step_time_s": 0.01}

    def save(self, model, folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / WEIGHTS).write_text(json.dumps(model, sort_keys=True))
        return {"vocabulary_size": len(model)}

    def n_parameters(self, model):
        return len(model)

    def load(self, model_dir, artifact):
        return LoadedModel(artifact, json.loads((model_dir / WEIGHTS).read_text()))

    @staticmethod
    def _margins(model, texts):
        return np.array([np.mean([model.get(w, 0.0) for w in _words(t)] or [0.0]) for t in texts])

    def margins(self, loaded, texts, batch_size, device, dtype, progress):
        return self._margins(loaded.model, texts)

    def dataset_margins(self, loaded, ds, batch_size, device, dtype):
        return self._margins(loaded.model, ds[paths.TEXT])


@pytest.fixture
def fourth_kind(monkeypatch):
    kinds.names()  # the built-in kinds registered
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))  # the fourth one for this test only
    yield kinds.register("word_log_odds", WordLogOddsKind())
    mlflow.set_tracking_uri(None)


def test_the_kinds_are_a_registry_with_one_name_rule():
    assert set(kinds.names()) == {"transformer", "bilstm", "tfidf_logreg"}
    model = ModelParams(name="some/base-model")
    assert kinds.get(ModelParams().type).label(model) == "some/base-model"  # named after its base
    assert kinds.get("bilstm").label(model) == "bilstm"  # trained from scratch: named after the kind
    with pytest.raises(ValueError, match=r"model.type='lstm' is not a model kind: use one of transformer, bilstm"):
        kinds.get("lstm")


def test_a_fourth_kind_runs_through_tokenize_train_evaluate_and_the_analyzer(
    fourth_kind, tmp_path, tokenized_workspace
):
    shutil.copytree(tokenized_workspace / "data" / "clean", tmp_path / "data" / "clean")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["model"]["type"] = "word_log_odds"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_stages(tmp_path, "tokenize", "train", "evaluate")

    weights = json.loads((tmp_path / paths.MODEL_DIR / WEIGHTS).read_text())
    train_metrics = json.loads((tmp_path / paths.TRAIN_METRICS).read_text())
    assert train_metrics["vocabulary_size"] == train_metrics["n_parameters"] == len(weights)
    folder = json.loads((tmp_path / paths.MODEL_DIR / "sentiment_pipeline.json").read_text())
    assert folder["model_type"] == folder["source_model"] == "word_log_odds"
    eval_metrics = json.loads((tmp_path / paths.EVAL_METRICS).read_text())
    assert eval_metrics["accuracy"] > 0.8  # the fixture's reviews carry their label in their words

    analyzer = SentimentAnalyzer.from_pretrained(tmp_path / paths.MODEL_DIR)
    text = "great superb film"
    expected = np.mean([weights.get(w, 0.0) for w in text.split()]) / folder["temperature"]
    assert analyzer.predict(text).scores["pos"] == pytest.approx(1 / (1 + np.exp(-expected)))
    assert analyzer.token_budget is None and analyzer.token_count("<b>two</b> words") == 2
    store = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = store.search_runs([store.get_experiment_by_name(Params().mlflow.experiment).experiment_id])[0]
    assert run.data.tags["model_type"] == "word_log_odds" and "test_accuracy" in run.data.metrics
