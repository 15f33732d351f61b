"""A training SIGKILLed mid-epoch resumes from its checkpoint under `dvc repro`
and ends exactly where an uninterrupted run ends (CPU)."""

import json
import shutil
import signal
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from mlflow.entities import RunStatus
from safetensors.torch import load_file

from sentiment_pipeline import paths
from sentiment_pipeline.training.checkpoints import load_history
from tests.dvc_project import dvc, make_project, runs, stages_run
from tests.helpers import REPO

EVERY = 4  # checkpoint_every_steps
SLEEP = 3.0  # seconds of epoch 2 spent before its checkpoint (and the kill)


def lock_hash(root, stage, path):
    outs = yaml.safe_load((root / "dvc.lock").read_text())["stages"][stage]["outs"]
    return next(out["md5"] for out in outs if out["path"] == path)


@pytest.fixture(scope="module")
def project(tmp_path_factory, imdb_dir, tiny_model_dir):
    return make_project(tmp_path_factory.mktemp("resume"), imdb_dir, tiny_model_dir, checkpoint_every_steps=EVERY)


def test_sigkilled_training_resumes_exactly(project):
    root, env = project
    dvc(project, "repro")  # the uninterrupted reference
    model_hash = lock_hash(root, "train", "models/best")
    reference = {
        "metrics": json.loads((root / "metrics/train.json").read_text()),
        "history": pd.read_csv(root / "reports/train_history.csv"),
        "timing": pd.DataFrame(json.loads((root / paths.TRAIN_TIMING).read_text())["epochs"]),
        "weights": load_file(root / "models/best/model.safetensors"),
    }
    steps_per_epoch = int(reference["history"]["step"][0])
    assert steps_per_epoch > 2 * EVERY
    assert reference["timing"]["epoch_time_s"][1] < SLEEP  # a whole epoch 2 takes less than the pause below
    n_runs = len(runs(root))

    # as DVC would before rerunning train: its (non-persist) outputs go
    for out in ("models/best", "metrics/train.json", "reports/train_history.csv"):
        shutil.rmtree(root / out) if (root / out).is_dir() else (root / out).unlink()
    # retrain from scratch (the finished state says so), SIGKILLed 3 steps into epoch 2
    last_checkpoint = steps_per_epoch + EVERY
    kill_step = last_checkpoint + 3
    killed = subprocess.run(
        [
            sys.executable,
            str(REPO / "tests/train_then_sigkill.py"),
            str(kill_step),
            str(steps_per_epoch + 1),
            str(SLEEP),
        ],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    checkpoints = root / "models/checkpoints"
    assert json.loads((checkpoints / "state.json").read_text())["status"] == "running"
    assert (checkpoints / f"checkpoint-{last_checkpoint}" / "COMPLETE").is_file()
    assert not list(checkpoints.rglob("training_args.bin"))  # no pickled objects in checkpoints
    assert not (root / "models/best").exists()
    assert runs(root)[-1].info.status == RunStatus.to_string(RunStatus.RUNNING)  # killed: never closed
    saved = load_history(checkpoints / f"checkpoint-{last_checkpoint}")
    assert saved["mid_epoch"] and saved["epoch_elapsed"] >= SLEEP  # epoch 2 had run EVERY steps, and the pause

    output = dvc(project, "repro")
    assert f"Resuming training from checkpoint-{last_checkpoint}" in output
    assert stages_run(output)[0] == "train"

    assert json.loads((root / "metrics/train.json").read_text()) == reference["metrics"]
    weights = load_file(root / "models/best/model.safetensors")
    assert weights.keys() == reference["weights"].keys()
    for name, tensor in weights.items():
        assert (tensor == reference["weights"][name]).all(), name  # bit for bit
    history = pd.read_csv(root / "reports/train_history.csv")
    pd.testing.assert_frame_equal(history, reference["history"])
    timing = pd.DataFrame(json.loads((root / paths.TRAIN_TIMING).read_text())["epochs"])
    # the interrupted epoch's time counts the part before the checkpoint (the pause in it) and then the rest:
    # the rest alone is shorter than a whole uninterrupted epoch 2, itself shorter than the pause
    assert timing["epoch_time_s"][1] > saved["epoch_elapsed"] >= SLEEP
    assert history["step"][1] == 2 * steps_per_epoch

    # one MLflow run for the killed + resumed training, closed and complete
    all_runs = runs(root)
    assert len(all_runs) == n_runs + 1
    resumed = all_runs[-1]
    assert resumed.info.status == RunStatus.to_string(RunStatus.FINISHED)
    assert resumed.data.tags.get("resumed") == "true"
    assert resumed.data.metrics["best_val_f1"] == reference["metrics"]["val_f1"]
    state = json.loads((checkpoints / "state.json").read_text())
    assert state["status"] == "finished" and not list(checkpoints.glob("checkpoint-*"))
    # and DVC records the very same model folder (tokenizer, config, weights)
    assert lock_hash(root, "train", "models/best") == model_hash
