"""Two queued experiments run at once (`dvc queue start -j 2`), both logging to the server."""

from __future__ import annotations

import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from tests.dvc_project import sh

pytestmark = pytest.mark.slow  # real servers and DVC's queue


def test_two_queue_workers_land_both_runs_on_the_server(team_project, stack, monkeypatch):
    root, env = team_project
    dvc = lambda *args: sh([sys.executable, "-m", "dvc", *args], root, env)
    for seed in (1, 2):
        dvc("exp", "run", "--queue", "-n", f"seed-{seed}", "-S", f"train.seed={seed}")
    dvc("queue", "start", "-j", "2")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = dvc("queue", "status")
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    assert status.count("Success") == 2, status + dvc("queue", "logs", "seed-1") + dvc("queue", "logs", "seed-2")

    for key, value in env.items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    client = MlflowClient(stack.tracking_uri)
    experiment = client.get_experiment_by_name("imdb-sentiment")
    runs = client.search_runs([experiment.experiment_id], "tags.dvc_exp_name LIKE 'seed-%'")
    assert sorted(r.data.tags["dvc_exp_name"] for r in runs) == ["seed-1", "seed-2"]
    for run in runs:
        assert run.info.status == "FINISHED" and "test_accuracy" in run.data.metrics
        assert len(client.get_metric_history(run.info.run_id, "val_f1")) == 1  # its one epoch landed
