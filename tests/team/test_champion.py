"""The promotion gate on the stack's registry: @champion moves only on the paired evidence."""

from __future__ import annotations

import shutil

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from safetensors.torch import load_file, save_file

from sentiment_pipeline import paths
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from sentiment_pipeline.serving.mlflow_model import log_and_register
from sentiment_pipeline.team.champion import ALIAS, gate
from sentiment_pipeline.team.cli import main as team_cli
from tests.team.conftest import client_env

pytestmark = pytest.mark.slow  # real servers


@pytest.fixture
def on_stack(stack, monkeypatch):
    for key, value in client_env(stack).items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(stack.tracking_uri)
    yield MlflowClient(stack.tracking_uri)
    mlflow.set_tracking_uri(None)


def inverted(model_dir, tmp_path):
    """The same model with its classifier's sign flipped: it calls positive what the original calls negative."""
    copy = shutil.copytree(model_dir, tmp_path / "inverted")
    weights = load_file(copy / "model.safetensors")
    head = [k for k in weights if k.startswith("classifier.")]
    assert head
    save_file({k: -v if k in head else v for k, v in weights.items()}, str(copy / "model.safetensors"))
    return copy


def register(model_dir, name):
    with mlflow.start_run():
        return log_and_register(model_dir, name).registered_model_version


def test_a_worse_version_is_refused_with_its_reason_and_an_equal_one_promoted(on_stack, trained, tmp_path, capsys):
    client, name = on_stack, f"gate-{tmp_path.name}"
    good = trained / paths.MODEL_DIR
    reviews = pd.read_parquet(trained / "data/clean/test.parquet")
    first = register(good, name)
    assert gate(name, first, reviews).promoted  # no champion yet
    assert client.get_model_version_by_alias(name, ALIAS).version == first

    worse = register(inverted(good, tmp_path), name)
    decision = gate(name, worse, reviews, n_boot=500)
    assert not decision.promoted and decision.d_accuracy_high < 0 and decision.champion == first
    assert client.get_model_version_by_alias(name, ALIAS).version == first  # the alias stayed
    tags = client.get_model_version(name, worse).tags
    assert tags["gate.promoted"] == "False" and "may be worse" in tags["gate.reason"]
    assert float(tags["gate.accuracy_new"]) < float(tags["gate.accuracy_champion"])
    with pytest.raises(SystemExit) as exit_info:  # the command says so and exits 1
        team_cli(["promote", "--name", name, "--version", worse, "--reviews", str(trained / "data/clean/test.parquet")])
    assert exit_info.value.code == 1 and "kept the champion" in capsys.readouterr().out

    # the same logged model registered again (no second upload): an equal version
    same = mlflow.register_model(client.get_model_version(name, first).source, name).version
    decision = gate(name, same, reviews, n_boot=500)
    assert decision.promoted and decision.d_accuracy == 0 and decision.mcnemar_p == 1.0
    assert client.get_model_version_by_alias(name, ALIAS).version == same

    # what the alias points to is what serves: the analyzer (CLI, demo) reads models:/<name>@champion
    served = SentimentAnalyzer.from_pretrained(f"models:/{name}@{ALIAS}", device="cpu", precision="fp32")
    local = SentimentAnalyzer.from_pretrained(good, device="cpu", precision="fp32")
    texts = reviews["text"].tolist()[:8]
    assert served.predict_proba(texts) == pytest.approx(local.predict_proba(texts), abs=1e-6)
