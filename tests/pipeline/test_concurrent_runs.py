"""`dvc queue start -j 2`: two trainings at once in temporary workspaces, both
logging to the main repository's new sqlite store. Neither run may be lost or
fail on a locked database."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.helpers import REPO

pytestmark = pytest.mark.slow  # DVC / multi-process / subprocess runs: `pytest -m 'not slow'` skips them


def test_two_concurrent_trainings_both_complete_in_the_main_store(tmp_path, tokenized_workspace):
    main = tmp_path / "main"  # the repository `mlflow ui` opens; no store yet
    main.mkdir()
    procs = []
    for i, lr in enumerate((1e-3, 2e-3)):
        ws = tmp_path / f"exp{i}"  # what DVC's queue makes: a temporary copy, DVC_ROOT = main
        shutil.copytree(tokenized_workspace / "data", ws / "data")
        params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
        params["train"].update(lr=lr, epochs=2, logging_steps=1)  # a metric write every step
        (ws / "params.yaml").write_text(yaml.safe_dump(params))
        env = {**os.environ, "DVC_ROOT": str(main), "DVC_EXP_NAME": f"concurrent-{i}", "PYTHONPATH": str(REPO)}
        env.pop("MLFLOW_TRACKING_URI", None)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "stages.train"],
                cwd=ws,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [out[-3000:] for out in outputs]

    client = MlflowClient(f"sqlite:///{main / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("imdb-sentiment")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["dvc_exp_name"] for r in runs) == ["concurrent-0", "concurrent-1"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert len(client.get_metric_history(run.info.run_id, "val_f1")) == 2  # every epoch's row landed
        steps = client.get_metric_history(run.info.run_id, "train_loss_step")
        assert len(steps) >= 20 and "best_val_f1" in run.data.metrics
    assert {r.data.params["train.lr"] for r in runs} == {"0.001", "0.002"}
