"""tools/check_reproduction.py cannot say "identical" without a run: a clone
with no run and a run stopped midway fail with one line each naming what is
missing; a real forced rerun passes."""

import shutil
import subprocess
import sys

import pytest

from tests.dvc_project import dvc, make_project, sh
from tests.helpers import REPO

TOOL = REPO / "tools" / "check_reproduction.py"


def check(root, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL)], cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def committed(tmp_path_factory, imdb_dir, tiny_model_dir):
    root, env = make_project(tmp_path_factory.mktemp("reproduction"), imdb_dir, tiny_model_dir, epochs=1)
    dvc((root, env), "repro")
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "the committed run"], root, env)
    return root, env


@pytest.mark.slow
def test_a_clone_without_a_run_is_not_reproduced(committed, tmp_path):
    root, env = committed
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    result = check(clone, env)
    assert result.returncode == 1, result.stdout
    assert "NOT REPRODUCED  missing models/best" in result.stdout and "identical" not in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_stopped_run_is_not_reproduced_and_does_not_crash(committed):
    root, env = committed
    saved = {p: (root / p).read_bytes() for p in ("metrics/train.json",)}
    shutil.rmtree(root / "models/best")  # what DVC removes before it reruns train
    (root / "metrics/train.json").unlink()
    try:
        result = check(root, env)
        assert result.returncode == 1, result.stdout
        assert "missing models/best" in result.stdout and "missing metrics/train.json" in result.stdout
        assert "Traceback" not in result.stderr and "identical" not in result.stdout
    finally:
        for path, data in saved.items():
            (root / path).write_bytes(data)
        dvc(committed, "checkout")
    assert check(root, env).returncode == 0


@pytest.mark.slow
def test_a_real_rerun_is_reproduced(committed):
    root, env = committed
    dvc(committed, "repro", "-f")
    assert sh(["git", "status", "--porcelain"], root, env) == ""  # the plain check: a rerun leaves git clean
    result = check(root, env)
    assert result.returncode == 0, result.stdout
    assert "0 different" in result.stdout and "0 files differ" in result.stdout


@pytest.mark.slow
def test_an_output_edited_after_the_run_is_named(committed):
    root, env = committed
    report = root / "reports/errors.md"
    original = report.read_text()
    report.write_text(original + "edited by hand\n")
    try:
        result = check(root, env)
    finally:
        report.write_text(original)
    assert result.returncode == 1 and "NOT REPRODUCED  stage evaluate" in result.stdout, result.stdout
    assert "reports/errors.md" in result.stdout
