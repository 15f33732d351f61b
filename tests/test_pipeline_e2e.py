"""The whole DVC pipeline in a throw-away git repo on the tiny fixtures:
what runs on `dvc repro`, what reruns after a loss change, what MLflow holds."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from conftest import REPO, tiny_params

STAGES = ["download", "clean", "tokenize", "train", "evaluate", "plot"]


def sh(cmd, cwd, env):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def stages_run(output):
    return [s for s in STAGES if re.search(rf"Running stage '{s}'", output)]


@pytest.fixture(scope="module")
def project(tmp_path_factory, imdb_dir, tiny_model_dir):
    root = tmp_path_factory.mktemp("project")
    for item in ("stages", "sentiment_pipeline"):
        shutil.copytree(REPO / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root)
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(imdb_dir, tiny_model_dir), sort_keys=False))
    (root / ".gitignore").write_text("mlflow.db*\nmlartifacts/\n__pycache__/\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    sh(["git", "init", "-q", "-b", "main"], root, env)
    sh([sys.executable, "-m", "dvc", "init", "-q"], root, env)
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "pipeline"], root, env)
    return root, env


def dvc(project, *args):
    root, env = project
    return sh([sys.executable, "-m", "dvc", *args], root, env)


def runs(root):
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("imdb-sentiment")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def test_repro_runs_every_stage_then_nothing(project):
    root, _ = project
    assert stages_run(dvc(project, "repro")) == STAGES
    assert stages_run(dvc(project, "repro")) == []
    for out in ("metrics/train.json", "metrics/eval.json", "metrics/clean.json", "plots/roc_curve.png",
                "models/best/model.safetensors", "reports/train_history.csv", "dvc.lock"):
        assert (root / out).is_file(), out
    assert "test_accuracy" in runs(root)[0].data.metrics


def test_loss_change_reruns_only_train_evaluate_plot(project):
    root, env = project
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "baseline run"], root, env)
    output = dvc(project, "exp", "run", "-n", "lw-1.5", "-S", "train.loss.length_weight=1.5")
    assert stages_run(output) == ["train", "evaluate", "plot"]

    first, second = runs(root)
    assert first.data.params["train.loss.length_weight"] == "0.5"
    assert second.data.params["train.loss.length_weight"] == "1.5"
    for run in (first, second):
        assert {"test_accuracy", "test_f1", "test_roc_auc", "best_val_f1"} <= set(run.data.metrics)
    assert second.data.tags["dvc_exp_name"] == "lw-1.5" and second.info.run_name == "lw-1.5"
    assert second.data.tags["git_commit"] == sh(["git", "rev-parse", "HEAD"], root, env).strip()


def test_temp_workspace_experiment_logs_to_the_main_store(project):
    root, _ = project
    dvc(project, "exp", "run", "--temp", "-n", "cp-0", "-S", "train.loss.confidence_penalty=0")
    latest = runs(root)[-1]
    assert latest.data.params["train.loss.confidence_penalty"] == "0.0"
    assert latest.data.tags["dvc_exp_name"] == "cp-0"
    assert "test_accuracy" in latest.data.metrics
    shown = dvc(project, "exp", "show", "--csv")
    assert "lw-1.5" in shown and "cp-0" in shown


def test_plots_diff_renders_both_experiments(project):
    root, _ = project
    dvc(project, "plots", "diff", "lw-1.5", "cp-0", "-o", "diff_html")
    html = (root / "diff_html" / "index.html").read_text()
    for rev in ("lw-1.5", "cp-0"):
        assert f'"rev": "{rev}"' in html
    for field in ('"fpr"', '"val_f1"', '"epoch_time_s"', '"predicted"'):  # ROC, history, confusion
        assert field in html
    assert (root / "diff_html" / "static" / "cp-0_plots_roc_curve.png").is_file()


def test_invalid_param_fails_fast_naming_the_key(project):
    root, env = project
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "-S", "train.lr=-1"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "train.lr" in result.stdout + result.stderr and "greater than 0" in result.stdout + result.stderr
