"""Shared fixtures: a tiny IMDB-layout dataset and a tiny BERT, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from fixtures import make_imdb_like, make_tiny_bert

# offline and quiet, whatever the machine has
os.environ.update(
    DVC_NO_ANALYTICS="1",
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    TOKENIZERS_PARALLELISM="false",
    MLFLOW_ENABLE_ASYNC_LOGGING="false",
)
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("DVC_ROOT", None)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_inherited_tracking_uri():
    """mlflow.set_tracking_uri (called by stages run in-process) also sets
    MLFLOW_TRACKING_URI; a later test's subprocess would inherit it and log to
    an earlier test's store. Every test starts and ends without it."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="session")
def imdb_dir(tmp_path_factory) -> Path:
    return make_imdb_like(tmp_path_factory.mktemp("data") / "imdb")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, imdb_dir) -> Path:
    corpus = pd.read_parquet(imdb_dir / "plain_text" / "train-00000-of-00001.parquet")["text"].tolist()
    return make_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert", corpus)


def tiny_params(imdb_dir: Path, model_dir: Path) -> dict:
    """params.yaml content for a seconds-long run on the fixtures."""
    from sentiment_pipeline.config import Params

    params = Params().model_dump()  # the schema defaults, whatever the workspace's params.yaml holds
    params["data"].update(source=str(imdb_dir), train_size=None, test_size=None, val_fraction=0.2)
    params["model"]["name"] = str(model_dir)
    params["tokenize"]["max_length"] = 64
    params["train"].update(epochs=3, batch_size=4, eval_batch_size=16, lr=1e-3, logging_steps=2, device="cpu")
    params["evaluate"]["batch_size"] = 16
    # logging the model to MLflow costs seconds per evaluate: tested on its own (test_mlflow_model.py)
    params["mlflow"]["log_model"] = False
    return params


@pytest.fixture(scope="session")
def tokenized_workspace(tmp_path_factory, imdb_dir, tiny_model_dir) -> Path:
    """A workspace (params.yaml for the tiny fixtures) after download, clean and
    tokenize. Copy it before writing to it."""
    import importlib

    import yaml

    root = tmp_path_factory.mktemp("tokenized")
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(imdb_dir, tiny_model_dir)))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        for stage in ("download", "clean", "tokenize"):
            importlib.import_module(f"stages.{stage}").main()
    finally:
        os.chdir(cwd)
    return root


def train_workspace(root: Path, tokenized_workspace: Path, monkeypatch, **model) -> Path:
    """A copy of the tokenized workspace, trained for one epoch (re-tokenized
    first when `model` overrides model params, e.g. type="tfidf_logreg")."""
    import importlib
    import shutil

    import yaml

    shutil.copytree(tokenized_workspace / "data", root / "data")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["model"].update(model)
    params["train"]["epochs"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(root)
    for stage in (["tokenize", "train"] if model else ["train"]):
        importlib.import_module(f"stages.{stage}").main()
    return root


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory, tokenized_workspace) -> Path:
    """The tiny model trained for one epoch (models/best in the returned folder). Read only."""
    with pytest.MonkeyPatch.context() as mp:
        return train_workspace(tmp_path_factory.mktemp("trained"), tokenized_workspace, mp)
