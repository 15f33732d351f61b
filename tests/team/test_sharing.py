"""Sharing through the team stack: the DVC remote on S3, runs on the MLflow server."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sentiment_pipeline.hashing import hash_tree
from sentiment_pipeline.tracking import MODEL_TAG
from tests.dvc_project import STAGES, sh, stages_run

pytestmark = pytest.mark.slow  # real servers and DVC runs


def dvc(root, env, *args, timeout=900):
    return sh([sys.executable, "-m", "dvc", *args], root, env, timeout=timeout)


def add_remote(root, env, stack, prefix):
    dvc(root, env, "remote", "add", "-d", "team", f"s3://dvc/{prefix}")
    dvc(root, env, "remote", "modify", "team", "endpointurl", stack.s3_url)


def test_a_fresh_clone_pulls_the_run_instead_of_retraining(team_project, stack, tmp_path, monkeypatch):
    root, env = team_project
    add_remote(root, env, stack, tmp_path.name)
    start = time.perf_counter()
    assert stages_run(dvc(root, env, "repro")) == STAGES
    repro_s = time.perf_counter() - start
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "run"], root, env)
    dvc(root, env, "push")

    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    start = time.perf_counter()
    dvc(clone, env, "pull")
    pull_s = time.perf_counter() - start
    assert "up to date" in dvc(clone, env, "status")
    assert stages_run(dvc(clone, env, "repro")) == []  # nothing retrains
    assert (clone / "models/best/model.safetensors").read_bytes() == (
        root / "models/best/model.safetensors"
    ).read_bytes()
    print(f"tiny run: dvc repro {repro_s:.1f} s, a fresh clone's dvc pull {pull_s:.1f} s")

    # the run that trained the pulled model, and its artifacts, through the server (proxied: no S3 keys here)
    for key, value in env.items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    client = MlflowClient(stack.tracking_uri)
    experiment = client.get_experiment_by_name("imdb-sentiment")
    (run,) = client.search_runs([experiment.experiment_id], f"tags.{MODEL_TAG} = '{hash_tree(clone / 'models/best')}'")
    metrics = json.loads((clone / "metrics/eval.json").read_text())
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    logged = client.download_artifacts(run.info.run_id, "evaluation/eval.json", str(tmp_path))
    assert json.loads(Path(logged).read_text()) == metrics


def test_a_push_to_a_stopped_store_fails_and_a_later_push_completes(team_project, stack, tmp_path):
    from sentiment_pipeline.team import stack as team
    from sentiment_pipeline.team import start

    root, env = team_project
    add_remote(root, env, stack, tmp_path.name)
    dvc(root, env, "repro", "tokenize")
    team.kill(stack, "s3")
    try:
        failed = __import__("subprocess").run(
            [sys.executable, "-m", "dvc", "push"], cwd=root, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        start.s3(stack)
    assert failed.returncode != 0
    errors = [line for line in (failed.stdout + failed.stderr).splitlines() if line.startswith("ERROR")]
    assert errors and len(errors) <= 2, failed.stderr[-2000:]
    dvc(root, env, "push")  # what the failed push left is not taken for done: this one completes it
    clone = tmp_path / "clone"
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "tokenized"], root, env)
    sh(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    dvc(clone, env, "pull", "tokenize")
    assert hash_tree(clone / "data/tokenized") == hash_tree(root / "data/tokenized")
