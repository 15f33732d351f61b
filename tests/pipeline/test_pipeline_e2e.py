"""The whole DVC pipeline in a throw-away git repo on the tiny fixtures:
what runs on `dvc repro`, what reruns after a loss change, what MLflow holds."""

import importlib.util
import subprocess
import sys

import pytest
import yaml

from tests.dvc_project import STAGES, dvc, make_project, runs, sh, stages_run
from tests.helpers import REPO

pytestmark = pytest.mark.slow  # DVC / multi-process / subprocess runs: `pytest -m 'not slow'` skips them

_spec = importlib.util.spec_from_file_location("plots_in_browser", REPO / "tools" / "plots_in_browser.py")
plots_in_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plots_in_browser)


@pytest.fixture(scope="module")
def project(tmp_path_factory, imdb_dir, tiny_model_dir):
    return make_project(tmp_path_factory.mktemp("project"), imdb_dir, tiny_model_dir)


@pytest.fixture(scope="module")
def baseline(project):
    """`dvc repro` twice on the fresh project, then the run committed: (first, second) outputs."""
    root, env = project
    outputs = dvc(project, "repro"), dvc(project, "repro")
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "baseline run"], root, env)
    return outputs


@pytest.fixture(scope="module")
def experiments(project, baseline):
    """Two experiments on the baseline: lw-1.5 in the workspace, cp-0 in a temp folder. Their outputs."""
    return {
        "lw-1.5": dvc(project, "exp", "run", "-n", "lw-1.5", "-S", "train.loss.length_weight=1.5"),
        "cp-0": dvc(project, "exp", "run", "--temp", "-n", "cp-0", "-S", "train.loss.confidence_penalty=0"),
    }


def run_named(root, name):
    (found,) = [r for r in runs(root) if r.info.run_name == name]
    return found


def test_repro_runs_every_stage_then_nothing(project, baseline):
    root, _ = project
    first, second = baseline
    assert stages_run(first) == STAGES
    assert stages_run(second) == []
    for out in (
        "metrics/train.json",
        "metrics/eval.json",
        "reports/clean.json",
        "plots/roc_curve.png",
        "models/best/model.safetensors",
        "reports/train_history.csv",
        "dvc.lock",
    ):
        assert (root / out).is_file(), out
    assert "test_accuracy" in runs(root)[0].data.metrics
    first = runs(root)[0]  # plain dvc repro: named after the commit it ran on
    assert "dvc_exp_name" not in first.data.tags and len(first.data.tags["mlflow.source.git.commit"]) == 40
    assert first.info.run_name == "repro-" + first.data.tags["mlflow.source.git.commit"][:7]


def test_loss_change_reruns_only_train_evaluate_plot(project, baseline, experiments):
    root, env = project
    assert stages_run(experiments["lw-1.5"]) == ["validate", "train", "evaluate", "plot"]  # validate: constant output

    first, second = runs(root)[0], run_named(root, "lw-1.5")
    assert first.data.params["train.loss.length_weight"] == "0.5"
    assert second.data.params["train.loss.length_weight"] == "1.5"
    for run in (first, second):
        assert {"test_accuracy", "test_f1", "test_roc_auc", "best_val_f1"} <= set(run.data.metrics)
    assert second.data.tags["dvc_exp_name"] == "lw-1.5"
    assert second.data.tags["mlflow.source.git.commit"] == sh(["git", "rev-parse", "HEAD"], root, env).strip()


def test_temp_workspace_experiment_logs_to_the_main_store(project, experiments):
    root, _ = project
    latest = run_named(root, "cp-0")
    assert latest.data.params["train.loss.confidence_penalty"] == "0.0"
    assert latest.data.tags["dvc_exp_name"] == "cp-0"
    assert "test_accuracy" in latest.data.metrics
    shown = dvc(project, "exp", "show", "--csv")
    assert "lw-1.5" in shown and "cp-0" in shown


def test_plots_diff_renders_both_experiments(project, experiments, tmp_path):
    root, _ = project
    dvc(project, "plots", "diff", "lw-1.5", "cp-0", "-o", str(tmp_path / "diff_html"))
    html = (tmp_path / "diff_html" / "index.html").read_text()
    for rev in ("lw-1.5", "cp-0"):
        assert f'"rev": "{rev}"' in html
    # ROC, history, confusion, PR, reliability, accuracy by length
    for field in ('"fpr"', '"val_f1"', '"learning_rate"', '"predicted"', '"recall"', '"confidence"', '"bucket"'):
        assert field in html
    assert (tmp_path / "diff_html" / "static" / "cp-0_plots_roc_curve.png").is_file()
    assert "cdn.jsdelivr.net" not in html  # .dvc/config's plots.html_template: the scripts are in the page


def test_plots_diff_draws_every_plot_with_the_network_off(project, experiments, tmp_path, chromium):
    dvc(project, "plots", "diff", "lw-1.5", "cp-0", "-o", str(tmp_path / "diff_html"))
    page = plots_in_browser.render(tmp_path / "diff_html" / "index.html", tmp_path / "diff.png", chromium)
    declared = len(yaml.safe_load((project[0] / "dvc.yaml").read_text())["plots"]) - 1  # and plots/ (PNGs)
    assert page["external"] == [], "the page asked the network for something"
    assert page["plots"] == declared and page["blank"] == [], page
    assert page["images"] == 2 * len(list((project[0] / "plots").glob("*.png")))  # each PNG, both experiments


def test_invalid_param_fails_fast_naming_the_key(project):
    root, env = project
    try:
        result = subprocess.run(
            [sys.executable, "-m", "dvc", "exp", "run", "-S", "train.lr=-1"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:  # `exp run -S` wrote the bad value into params.yaml; the other tests share this project
        sh(["git", "checkout", "--", "params.yaml"], root, env)
    assert result.returncode != 0
    assert "train.lr" in result.stdout + result.stderr and "greater than 0" in result.stdout + result.stderr


def test_ablation_collector_reads_dvc_exp_show(project, experiments, monkeypatch):
    import json

    from sentiment_pipeline.dvc_experiments import experiment_revs
    from tests.tools.test_ablation_tool import ablation

    shown = json.loads(dvc(project, "exp", "show", "--json"))
    rows = ablation.experiment_rows(shown, prefix="")
    by_name = rows.set_index("experiment")
    assert by_name.loc["lw-1.5", "length_weight"] == 1.5 and by_name.loc["cp-0", "confidence_penalty"] == 0
    assert rows[["accuracy", "f1", "ece"]].notna().all().all()
    table = ablation.summary(rows)
    assert len(table) == 2 and set(table["runs"]) == {1}
    assert "| 1.5 | 1 | 1 |" in ablation.to_markdown(table)
    # the paired comparison reads each experiment's per-review predictions from the DVC cache
    monkeypatch.chdir(project[0])
    predictions = ablation.load_predictions(["lw-1.5", "cp-0"], experiment_revs(shown, ""), None)
    first, second = predictions["lw-1.5"], predictions["cp-0"]
    assert len(first) == len(second) > 0 and (first["label"] == second["label"]).all()
    assert {"prob_pos", "prob_pos_scaled"} <= set(first.columns)
