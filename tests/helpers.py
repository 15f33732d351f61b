"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
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


@contextmanager
def store_of(root: Path):
    """MLflow's store in the workspace `root` (its mlflow.db), as a stage run there would have it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{Path(root).resolve() / 'mlflow.db'}")
        yield


def run_stages(root: Path, *names: str, params=None) -> Path:
    """Each stage's work (`stages.<name>.STEP`) on the workspace `root`, called as a function with
    the paths its stage script would read, under `root` (no chdir); params from root/params.yaml."""
    from sentiment_pipeline.config import load_params

    params = params or load_params(Path(root) / "params.yaml")
    with store_of(root):
        for name in names:
            stage = importlib.import_module(f"stages.{name}")
            stage.STEP(params, **{key: Path(root) / path for key, path in stage.PATHS.items()})
    return root


def train_workspace(root: Path, tokenized_workspace: Path, **model) -> Path:
    """A copy of the tokenized workspace, trained (3 epochs: the tiny model then
    tells the fixture's reviews apart; re-tokenized first when `model` overrides
    model params, e.g. type="tfidf_logreg")."""
    shutil.copytree(tokenized_workspace / "data", root / "data")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["model"].update(model)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return run_stages(root, *(["tokenize", "train"] if model else ["train"]))
