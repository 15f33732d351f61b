"""Which checkpoint a training resumes from, if any."""

import json

import pytest

from sentiment_pipeline.config import Params
from sentiment_pipeline.hashing import hash_tree
from sentiment_pipeline.training.checkpoints import CheckpointDir, fingerprint


@pytest.fixture
def inputs(tmp_path):
    data = tmp_path / "tokenized"
    (data / "train").mkdir(parents=True)
    (data / "train" / "data.arrow").write_bytes(b"rows")
    return data


def checkpoint(root, step, complete=True):
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"w")
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": 48, "epoch": step / 16}))
    (path / "training_args.bin").write_bytes(b"pickle")
    if complete:
        CheckpointDir(root, {}).complete(path, {"steps": [], "epochs": []})
    return path


def test_fresh_start_without_state(tmp_path, inputs):
    resume = CheckpointDir(tmp_path / "ck", fingerprint(Params(), inputs)).resume_point()
    assert resume.checkpoint is None and "from the start" in resume.message


def test_resumes_latest_complete_checkpoint_with_same_fingerprint(tmp_path, inputs):
    root = tmp_path / "ck"
    store = CheckpointDir(root, fingerprint(Params(), inputs))
    store.start(store.resume_point(), run_id="abc")
    checkpoint(root, 8)
    checkpoint(root, 16)
    checkpoint(root, 24, complete=False)  # killed while saving: not resumable
    resume = CheckpointDir(root, fingerprint(Params(), inputs)).resume_point()
    assert resume.checkpoint == root / "checkpoint-16" and resume.run_id == "abc"
    assert not (root / "checkpoint-16" / "training_args.bin").exists()  # the pickle is dropped


def test_other_params_discard_the_checkpoint_naming_the_change(tmp_path, inputs):
    root = tmp_path / "ck"
    old = CheckpointDir(root, fingerprint(Params(), inputs))
    old.start(old.resume_point(), run_id="abc")
    checkpoint(root, 8)
    changed = Params.model_validate({"train": {"loss": {"length_weight": 1.0}}})
    new = CheckpointDir(root, fingerprint(changed, inputs))
    resume = new.resume_point()
    assert resume.checkpoint is None and resume.run_id is None
    assert "train.loss.length_weight: 0.5 -> 1.0" in resume.message
    new.start(resume, run_id="def")
    assert not list(root.glob("checkpoint-*"))
    assert json.loads((root / "state.json").read_text())["run_id"] == "def"


def test_changed_data_discards_the_checkpoint(tmp_path, inputs):
    root = tmp_path / "ck"
    store = CheckpointDir(root, fingerprint(Params(), inputs))
    store.start(store.resume_point())
    checkpoint(root, 8)
    (inputs / "train" / "data.arrow").write_bytes(b"other rows")
    resume = CheckpointDir(root, fingerprint(Params(), inputs)).resume_point()
    assert resume.checkpoint is None and "inputs_sha256" in resume.message


def test_logging_cadence_does_not_invalidate_a_checkpoint(tmp_path, inputs):
    a = fingerprint(Params(), inputs)
    b = fingerprint(Params.model_validate({"train": {"logging_steps": 5, "checkpoint_every_steps": 50}}), inputs)
    assert a == b


def test_finished_training_starts_fresh_and_keeps_no_checkpoint(tmp_path, inputs):
    root = tmp_path / "ck"
    store = CheckpointDir(root, fingerprint(Params(), inputs))
    store.start(store.resume_point())
    checkpoint(root, 8)
    store.finish()
    assert [p.name for p in root.iterdir()] == ["state.json"]
    assert CheckpointDir(root, fingerprint(Params(), inputs)).resume_point().checkpoint is None


def test_hash_tree_sees_names_and_contents(tmp_path):
    (tmp_path / "a").write_bytes(b"1")
    first = hash_tree(tmp_path)
    (tmp_path / "a").rename(tmp_path / "b")
    assert hash_tree(tmp_path) != first


def test_non_main_process_writes_nothing(tmp_path, inputs):
    root = tmp_path / "ck"
    store = CheckpointDir(root, fingerprint(Params(), inputs), main_process=False)
    store.start(store.resume_point())
    assert not root.exists()
