"""A throw-away git + DVC repository holding this pipeline on the tiny fixtures."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from mlflow.tracking import MlflowClient

from tests.helpers import REPO, tiny_params

STAGES = ["validate", "download", "clean", "tokenize", "train", "evaluate", "plot"]


def sh(cmd, cwd, env, timeout=900):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def stages_run(output):
    return [s for s in STAGES if re.search(rf"Running stage '{s}'", output)]


def make_project(root: Path, imdb_dir: Path, model_dir: Path, **train_overrides) -> tuple[Path, dict]:
    for item in ("stages", "sentiment_pipeline"):
        shutil.copytree(REPO / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root)
    # the tiny dataset where the project ships its data (a dvc.yaml dependency of download)
    shutil.copytree(imdb_dir, root / "datasets" / "imdb")
    params = tiny_params(imdb_dir, model_dir)
    params["data"]["source"] = "datasets/imdb"
    params["train"].update(train_overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(REPO / ".gitignore", root)  # the project's: MLflow's store, checkpoints, timings/ stay out of git
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    sh(["git", "init", "-q", "-b", "main"], root, env)
    sh([sys.executable, "-m", "dvc", "init", "-q"], root, env)
    for name in ("config", "plots_offline.html"):  # the project's settings: plots render offline
        shutil.copy(REPO / ".dvc" / name, root / ".dvc" / name)
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "pipeline"], root, env)
    return root, env


def dvc(project, *args):
    root, env = project
    return sh([sys.executable, "-m", "dvc", *args], root, env)


def runs(root):
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("imdb-sentiment")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
