"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def tiny_params(imdb_dir: Path, model_dir: Path) -> dict:
    """params.yaml content for a seconds-long run on the fixtures."""
    from sentiment_pipeline.config import Params

    params = Params().model_dump()  # the schema defaults, whatever the workspace's params.yaml holds
    params["data"].update(source=str(imdb_dir), train_size=None, test_size=None, val_fraction=0.2)
    params["model"]["name"] = str(model_dir)
    params["tokenize"]["max_length"] = 64
    # fp32: the exact comparisons between prediction paths (evaluate, analyzer, served) hold on any
    # CPU; bf16 and the auto rule have their own tests (test_precision, test_training_options, test_analyzer)
    params["train"].update(
        epochs=3, batch_size=4, eval_batch_size=16, lr=1e-3, logging_steps=2, device="cpu", precision="fp32"
    )
    params["evaluate"]["batch_size"] = 16
    # logging the model to MLflow costs seconds per evaluate: tested on its own (test_mlflow_model.py)
    params["mlflow"]["log_model"] = False
    return params


def train_workspace(root: Path, tokenized_workspace: Path, monkeypatch, **model) -> Path:
    """A copy of the tokenized workspace, trained (3 epochs: the tiny model then
    tells the fixture's reviews apart; re-tokenized first when `model` overrides
    model params, e.g. type="tfidf_logreg")."""
    shutil.copytree(tokenized_workspace / "data", root / "data")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["model"].update(model)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(root)
    for stage in ["tokenize", "train"] if model else ["train"]:
        importlib.import_module(f"stages.{stage}").main()
    return root
