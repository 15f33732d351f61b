"""HEAD reproduces itself: every stage's output is deterministic, so a forced
rerun of a stage gives back the same dvc.lock, a full rerun the same dvc.lock
byte for byte and leaves `git status` clean (timings live in MLflow and the
git-ignored timings/, never in a DVC output), and where identical data comes from does not retrain.
The full-size check of the committed run is `python tools/check_reproduction.py`."""

import json
import shutil

import pytest
import yaml

from sentiment_pipeline import paths
from tests.dvc_project import STAGES, dvc, make_project, sh, stages_run

pytestmark = pytest.mark.slow  # DVC / multi-process / subprocess runs: `pytest -m 'not slow'` skips them


def lock_hashes(root) -> dict:
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


@pytest.fixture(scope="module")
def project(tmp_path_factory, imdb_dir, tiny_model_dir):
    root, env = make_project(tmp_path_factory.mktemp("repro"), imdb_dir, tiny_model_dir)
    env["HF_HOME"] = str(root.parent / "hf_home")  # the pipeline must write nothing there
    dvc((root, env), "repro")
    return root, env


def test_forced_rerun_of_tokenize_gives_back_the_same_lock(project):
    root, _ = project
    before = (root / "dvc.lock").read_text()
    assert stages_run(dvc(project, "repro", "-f", "-s", "tokenize")) == ["tokenize"]
    assert (root / "dvc.lock").read_text() == before  # data/tokenized has the same hash
    assert stages_run(dvc(project, "repro")) == []  # so train and evaluate are not stale


def test_full_rerun_gives_the_same_lock_and_a_clean_git_status(project):
    root, env = project
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "the run to reproduce"], root, env)
    lock, model = (root / "dvc.lock").read_text(), lock_hashes(root)["models/best"]
    timing_before = json.loads((root / paths.TRAIN_TIMING).read_text())
    assert stages_run(dvc(project, "repro", "-f")) == STAGES
    assert (root / "dvc.lock").read_text() == lock  # byte for byte: every output hashes the same
    assert lock_hashes(root)["models/best"] == model
    assert sh(["git", "status", "--porcelain"], root, env) == ""  # metrics, reports and plots unchanged
    # the timings are still written, outside every DVC output and git: a new figure each run
    timing = json.loads((root / paths.TRAIN_TIMING).read_text())
    assert set(timing) == {"train_runtime_s", "train_examples_per_s", "epochs"}
    assert timing["train_runtime_s"] > 0 and timing != timing_before
    assert set(json.loads((root / paths.EVAL_TIMING).read_text())) == {"examples_per_s"}
    tracked = "".join((root / p).read_text() for p in ("metrics/train.json", "metrics/eval.json", "dvc.lock"))
    assert str(root) not in tracked and paths.TIMING_KEY not in tracked and "epoch_time_s" not in tracked


def test_nothing_is_written_into_the_huggingface_cache(project):
    root, _ = project
    cache = root.parent / "hf_home"
    assert not cache.exists() or not any(cache.rglob("*")), sorted(cache.rglob("*"))[:5]


def test_where_identical_data_comes_from_does_not_retrain(project):
    root, env = project
    shutil.copytree(root / "datasets/imdb", root / "datasets/imdb_copy")
    params_file = root / "params.yaml"
    original = params_file.read_text()
    try:
        params = yaml.safe_load(original)
        params["data"]["source"] = "datasets/imdb_copy"
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        # same data/raw: nothing after download reruns (validate's output is a constant)
        assert stages_run(dvc(project, "repro")) == ["validate", "download"]
    finally:
        params_file.write_text(original)
        shutil.rmtree(root / "datasets/imdb_copy")
    assert set(stages_run(dvc(project, "repro"))) <= {"validate", "download"}  # or restored from the run-cache
    assert "up to date" in dvc(project, "status")


def test_editing_the_shipped_data_makes_download_stale(project):
    root, _ = project
    card = root / "datasets/imdb/README.md"
    original = card.read_text()
    try:
        card.write_text(original + "\nedited\n")
        assert "datasets/imdb" in dvc(project, "status", "download")
    finally:
        card.write_text(original)
    assert "up to date" in dvc(project, "status", "download")


def test_a_bad_param_stops_at_validate_with_every_output_in_place(project):
    import subprocess
    import sys

    root, env = project
    before = {p: (root / p).read_bytes() for p in ("dvc.lock", "metrics/train.json", "metrics/eval.json")}
    model = lock_hashes(root)["models/best"]
    params_file = root / "params.yaml"
    original = params_file.read_text()
    try:
        params = yaml.safe_load(original)
        params["train"]["lr"] = -1.0
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        result = subprocess.run(
            [sys.executable, "-m", "dvc", "repro"], cwd=root, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode != 0
        assert "train.lr: Input should be greater than 0" in result.stderr
        assert stages_run(result.stdout + result.stderr) == ["validate"]
    finally:
        params_file.write_text(original)
    # nothing was deleted or rewritten: the model, the metrics, the lock
    assert (root / "models/best/model.safetensors").is_file() and (root / "data/tokenized").is_dir()
    assert {p: (root / p).read_bytes() for p in before} == before
    assert lock_hashes(root)["models/best"] == model
    assert "up to date" in dvc(project, "status")
