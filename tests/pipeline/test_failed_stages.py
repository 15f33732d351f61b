"""A stage that fails after it starts loses nothing: the outputs kept in git
(cache: false, persist) stay as they were, and the cached outputs DVC deleted
before running it come back with `dvc checkout`; then nothing is stale."""

import subprocess
import sys

import pytest
import yaml

from tests.dvc_project import dvc, make_project, sh

STAGES = ["download", "clean", "tokenize", "train", "evaluate", "plot"]


def kept_in_git(root) -> list[str]:
    """Every output and metrics file dvc.yaml keeps in git (out of the DVC cache)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    paths = []
    for stage in stages.values():
        for entry in stage.get("outs", []) + stage.get("metrics", []):
            if isinstance(entry, dict):
                ((path, options),) = entry.items()
                if options.get("cache") is False:
                    assert options.get("persist") is True, f"{path} is kept in git but not persist"
                    paths.append(path)
    return paths


@pytest.fixture(scope="module")
def committed(tmp_path_factory, imdb_dir, tiny_model_dir):
    project = make_project(
        tmp_path_factory.mktemp("failing"), imdb_dir, tiny_model_dir, epochs=1, checkpoint_every_steps=2
    )
    root, env = project
    dvc(project, "repro")
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "the committed run"], root, env)
    return project


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_that_fails_keeps_what_git_holds_and_dvc_checkout_restores_the_rest(committed, stage):
    root, env = committed
    kept = kept_in_git(root)
    assert len(kept) >= 10
    before = {path: (root / path).read_bytes() for path in kept}
    script = root / "stages" / f"{stage}.py"
    original = script.read_text()
    script.write_text(original.replace("    run_step(STEP, PATHS, argv)\n", "    raise RuntimeError('boom')\n"))
    try:
        failed = subprocess.run(
            [sys.executable, "-m", "dvc", "repro", "-s", stage], cwd=root, env=env, capture_output=True, text=True
        )
        assert failed.returncode != 0 and "boom" in failed.stdout + failed.stderr
        assert {path: (root / path).read_bytes() for path in kept} == before  # nothing kept in git was lost
    finally:
        script.write_text(original)
    dvc(committed, "checkout")  # the cached outputs DVC removed before running the stage
    assert "Data and pipelines are up to date" in dvc(committed, "status")
    assert sh(["git", "status", "--porcelain"], root, env).strip() == ""


@pytest.mark.slow
def test_a_killed_training_leaves_a_checkout_that_works_and_resumes(committed, tmp_path):
    import shutil
    import signal

    from tests.helpers import REPO

    root, env = committed
    kept = {path: (root / path).read_bytes() for path in kept_in_git(root)}
    checkpoints = root / "models/checkpoints"
    saved = tmp_path / "checkpoints"
    shutil.copytree(checkpoints, saved)  # not cached: only a copy can put it back
    shutil.rmtree(root / "models/best")  # what DVC does before it reruns train
    killed = subprocess.run(
        [sys.executable, str(REPO / "tests/train_then_sigkill.py"), "5"],  # after the checkpoint at step 4
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    state = root / "models/checkpoints/state.json"
    assert yaml.safe_load(state.read_text())["status"] == "running"
    dvc(committed, "checkout")  # no "unsaved files" refusal: the checkpoints are not a cached output
    assert (root / "models/best/model.safetensors").is_file()
    assert yaml.safe_load(state.read_text())["status"] == "running"  # the resume point is kept
    assert {path: (root / path).read_bytes() for path in kept} == kept
    # the committed run is whole again: nothing is stale (the checkpoints are no DVC output)
    assert "Data and pipelines are up to date" in dvc(committed, "status")
    try:  # and the interrupted training is still there to finish: it resumes, to the committed model
        model = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["train"]["outs"][0]["md5"]
        assert "Resuming training from checkpoint-4" in dvc(committed, "repro", "-f", "-s", "train")
        assert yaml.safe_load((root / "dvc.lock").read_text())["stages"]["train"]["outs"][0]["md5"] == model
    finally:  # put the committed run back for the tests that share it
        sh(["git", "checkout", "--", "."], root, env)
        dvc(committed, "checkout", "--force")
        shutil.rmtree(checkpoints, ignore_errors=True)
        shutil.copytree(saved, checkpoints)
    assert sh(["git", "status", "--porcelain"], root, env).strip() == ""
    assert "Data and pipelines are up to date" in dvc(committed, "status")
