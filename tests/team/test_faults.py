"""Faults on the team stack: the tracking server lost mid-training, a client without credentials."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from mlflow.tracking import MlflowClient

from sentiment_pipeline import paths, tracking
from sentiment_pipeline.team import stack as team
from sentiment_pipeline.team import start
from tests.helpers import REPO
from tests.team.conftest import client_env

pytestmark = pytest.mark.slow  # real servers


def train_copy(tokenized_workspace, root, epochs):
    shutil.copytree(tokenized_workspace / "data", root / "data")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["train"].update(epochs=epochs, early_stopping_patience=0)
    params["mlflow"]["experiment"] = f"faults-{root.name}"
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root, params


def test_a_lost_server_fails_the_stage_in_one_line_and_a_rerun_resumes_the_same_run(
    stack, tokenized_workspace, tmp_path, monkeypatch
):
    root, params = train_copy(tokenized_workspace, tmp_path / "ws", epochs=12)
    env = client_env(stack, PYTHONPATH=str(REPO))  # the stage scripts, run from the workspace copy
    train = subprocess.Popen(
        [sys.executable, "-m", "stages.train"], cwd=root, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not list((root / paths.CHECKPOINT_DIR).glob("checkpoint-*/COMPLETE")) and time.monotonic() < deadline:
        assert train.poll() is None, train.communicate()[1][-3000:]
        time.sleep(0.2)  # until the first epoch's checkpoint is written
    team.kill(stack, "mlflow")
    try:
        err = train.communicate(timeout=300)[1]
    finally:
        start.mlflow(stack)
    assert train.returncode == 3, err[-3000:]
    errors = re.findall(r"error: [^\r\n]*", err)  # one line, whatever progress bars print around it
    assert len(errors) == 1 and errors[0].startswith(f"error: the MLflow tracking server {stack.tracking_uri} "), err[
        -2000:
    ]

    rerun = subprocess.run([sys.executable, "-m", "stages.train"], cwd=root, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Resuming training from checkpoint-" in rerun.stdout
    for key, value in env.items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    client = MlflowClient(stack.tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name(params["mlflow"]["experiment"]).experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags.get("resumed") == "true"  # one run, resumed
    epochs = {int(m.step) for m in client.get_metric_history(run.info.run_id, "val_f1")}
    assert len(epochs) == 12  # every epoch's validation F1 is there, once per epoch


def test_a_client_without_credentials_gets_one_line_and_creates_nothing(stack, monkeypatch):
    for key, value in client_env(stack).items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    admin = MlflowClient(stack.tracking_uri)
    before = len(admin.search_experiments())
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    with pytest.raises(tracking.StoreError) as err:
        tracking.prepare_experiment("no-credentials")
    message = str(err.value)
    assert stack.tracking_uri in message and "401" in message and "\n" not in message
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", stack.secrets["mlflow_password"])
    assert len(admin.search_experiments()) == before and admin.get_experiment_by_name("no-credentials") is None
