"""Shared fixtures: a tiny IMDB-layout dataset and a tiny BERT, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.fixtures import make_imdb_like, make_tiny_bert
from tests.helpers import tiny_params, train_workspace

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


@pytest.fixture(scope="session")
def imdb_dir(tmp_path_factory) -> Path:
    return make_imdb_like(tmp_path_factory.mktemp("data") / "imdb")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, imdb_dir) -> Path:
    corpus = pd.read_parquet(imdb_dir / "plain_text" / "train-00000-of-00001.parquet")["text"].tolist()
    return make_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert", corpus)


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


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory, tokenized_workspace) -> Path:
    """The tiny model trained for one epoch (models/best in the returned folder). Read only."""
    with pytest.MonkeyPatch.context() as mp:
        return train_workspace(tmp_path_factory.mktemp("trained"), tokenized_workspace, mp)
