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

pytestmark = pytest.mark.slow  # DVC / multi-process / subprocess runs: `pytest -m 'not slow'` skips them

EVERY = 4  # checkpoint_every_steps
SLEEP = 3.0  # seconds of epoch 2 spent before its checkpoint (and the kill)


def lock_hash(root, stage, path):
    outs = yaml.safe_load((root / "dvc.lock").read_text())["stages"][stage]["outs"]
    return next(out["md5"] for out in outs if out["path"] == path)


@pytest.fixture(scope="module")
def project(tmp_path_factory, imdb_dir, tiny_model_dir):
    return make_project(tmp_path_factory.mktemp("resume"), imdb_dir, tiny_model_dir, checkpoint_every_steps=EVERY)


def train_outputs(root):
    """What the train stage wrote: metrics, per-epoch history and timing, the weights."""
    return {
        "metrics": json.loads((root / "metrics/train.json").read_text()),
        "history": pd.read_csv(root / "reports/train_history.csv"),
        "timing": pd.DataFrame(json.loads((root / paths.TRAIN_TIMING).read_text())["epochs"]),
        "weights": load_file(root / "models/best/model.safetensors"),
    }


@pytest.fixture(scope="module")
def reference(project):
    """The uninterrupted run's outputs, its model folder's hash in dvc.lock and the MLflow runs after it."""
    root, _ = project
    dvc(project, "repro")
    model_hash = lock_hash(root, "train", "models/best")
    return {**train_outputs(root), "model_hash": model_hash, "n_runs": len(runs(root))}


def remove_train_outputs(root):
    """As DVC would before rerunning train: its (non-persist) outputs go."""
    for out in ("models/best", "metrics/train.json", "reports/train_history.csv"):
        shutil.rmtree(root / out) if (root / out).is_dir() else (root / out).unlink()


def train_until_sigkill(project, kill_step, sleep_step):
    """The train stage SIGKILLed at `kill_step`, after a pause of SLEEP seconds at `sleep_step`."""
    root, env = project
    return subprocess.run(
        [sys.executable, str(REPO / "tests/train_then_sigkill.py"), str(kill_step), str(sleep_step), str(SLEEP)],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_killed_after_checkpoint(root, last_checkpoint):
    """The killed training's traces: a running state, a complete checkpoint, an open MLflow run.
    Returns the checkpoint's saved history."""
    checkpoints = root / "models/checkpoints"
    assert json.loads((checkpoints / "state.json").read_text())["status"] == "running"
    assert (checkpoints / f"checkpoint-{last_checkpoint}" / "COMPLETE").is_file()
    assert not list(checkpoints.rglob("training_args.bin"))  # no pickled objects in checkpoints
    assert not (root / "models/best").exists()
    assert runs(root)[-1].info.status == RunStatus.to_string(RunStatus.RUNNING)  # killed: never closed
    saved = load_history(checkpoints / f"checkpoint-{last_checkpoint}")
    assert saved["mid_epoch"] and saved["epoch_elapsed"] >= SLEEP  # epoch 2 had run EVERY steps, and the pause
    return saved


def assert_same_outputs(resumed, reference, saved, steps_per_epoch):
    assert resumed["metrics"] == reference["metrics"]
    weights = resumed["weights"]
    assert weights.keys() == reference["weights"].keys()
    for name, tensor in weights.items():
        assert (tensor == reference["weights"][name]).all(), name  # bit for bit
    history = resumed["history"]
    pd.testing.assert_frame_equal(history, reference["history"])
    # the interrupted epoch's time counts the part before the checkpoint (the pause in it) and then the rest:
    # the rest alone is shorter than a whole uninterrupted epoch 2, itself shorter than the pause
    assert resumed["timing"]["epoch_time_s"][1] > saved["epoch_elapsed"] >= SLEEP
    assert history["step"][1] == 2 * steps_per_epoch


def assert_one_closed_mlflow_run(root, reference):
    """One MLflow run for the killed + resumed training, closed and complete."""
    all_runs = runs(root)
    assert len(all_runs) == reference["n_runs"] + 1
    resumed = all_runs[-1]
    assert resumed.info.status == RunStatus.to_string(RunStatus.FINISHED)
    assert resumed.data.tags.get("resumed") == "true"
    assert resumed.data.metrics["best_val_f1"] == reference["metrics"]["val_f1"]


def test_sigkilled_training_resumes_exactly(project, reference):
    root, _ = project
    steps_per_epoch = int(reference["history"]["step"][0])
    assert steps_per_epoch > 2 * EVERY
    assert reference["timing"]["epoch_time_s"][1] < SLEEP  # a whole epoch 2 takes less than the pause below

    remove_train_outputs(root)
    # retrain from scratch (the finished state says so), SIGKILLed 3 steps into epoch 2
    last_checkpoint = steps_per_epoch + EVERY
    killed = train_until_sigkill(project, kill_step=last_checkpoint + 3, sleep_step=steps_per_epoch + 1)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    saved = assert_killed_after_checkpoint(root, last_checkpoint)

    output = dvc(project, "repro")
    assert f"Resuming training from checkpoint-{last_checkpoint}" in output
    assert stages_run(output)[0] == "train"
    assert_same_outputs(train_outputs(root), reference, saved, steps_per_epoch)
    assert_one_closed_mlflow_run(root, reference)
    checkpoints = root / "models/checkpoints"
    state = json.loads((checkpoints / "state.json").read_text())
    assert state["status"] == "finished" and not list(checkpoints.glob("checkpoint-*"))
    # and DVC records the very same model folder (tokenizer, config, weights)
    assert lock_hash(root, "train", "models/best") == reference["model_hash"]
