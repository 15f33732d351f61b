"""The Optuna hyperparameter search: trials as nested MLflow runs, pruning,
the best-params file, and resuming an interrupted study."""

import json
import os
import shutil
import signal
import subprocess
import sys

import optuna
import pytest
import yaml
from datasets import load_from_disk
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from sentiment_pipeline import paths
from sentiment_pipeline.config import parse_params
from sentiment_pipeline.data.encoding import load_saved_tokenizer
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.training.search import (
    BEST_PARAMS_FILE,
    SEARCH_LOCK,
    PruningCallback,
    load_study,
    run_search,
)
from tests.helpers import REPO

pytestmark = pytest.mark.slow  # DVC / multi-process / subprocess runs: `pytest -m 'not slow'` skips them

SEARCH = {
    "study_name": "tiny",
    "n_trials": 3,
    "epochs": 2,
    "seed": 0,
    "pruner": {"n_startup_trials": 1, "n_warmup_epochs": 0},
    "space": {
        "train.lr": {"low": 5e-4, "high": 5e-3, "log": True},
        "train.batch_size": {"choices": [4, 8]},
        "train.loss.length_weight": {"low": 0.0, "high": 1.0},
        "train.loss.confidence_penalty": {"low": 0.0, "high": 2.0},
    },
}


@pytest.fixture
def search_ws(tmp_path, tokenized_workspace, monkeypatch):
    root = tmp_path / "ws"
    shutil.copytree(tokenized_workspace / "data", root / "data")
    raw = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    raw["search"] = SEARCH
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(root)
    return root, parse_params(raw)


def search_runs(root):
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("imdb-sentiment")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("run_kind") == "search"]
    children = [r for r in runs if r.data.tags.get("run_kind") == "trial"]
    return client, parents, children


def test_three_trials_nested_under_one_parent_and_best_params_written(search_ws):
    root, params = search_ws
    tokenized = load_from_disk(str(root / paths.TOKENIZED_DIR))
    result = run_search(params, tokenized, load_saved_tokenizer(root / paths.TOKENIZER_DIR), root / "search")

    finished = [t for t in result.study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 3
    client, parents, children = search_runs(root)
    assert [p.info.run_id for p in parents] == [result.parent_run_id]
    assert len(children) == 3
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == result.parent_run_id
        assert child.info.status == "FINISHED"
        trial = result.study.trials[int(child.data.tags["optuna_trial"])]
        assert child.data.tags["optuna_state"] == trial.state.name
        assert float(child.data.params["train.lr"]) == pytest.approx(trial.params["train.lr"])
        assert child.data.params["train.epochs"] == "2.0"
        val_f1 = client.get_metric_history(child.info.run_id, "val_f1")
        assert [m.step for m in val_f1] == sorted(trial.intermediate_values)  # one point per epoch reported

    best = json.loads((root / "search" / BEST_PARAMS_FILE).read_text())
    completed = [t for t in result.study.trials if t.state == TrialState.COMPLETE]
    top = max(completed, key=lambda t: t.value)
    assert best["trial"] == top.number and best["val_f1"] == pytest.approx(top.value)
    assert set(best["params"]) == set(SEARCH["space"]) | {"train.epochs"}
    assert best["command"].startswith("dvc exp run -S ") and f"train.lr={top.params['train.lr']!r}" in best["command"]
    # the parent records the outcome
    parent = client.get_run(result.parent_run_id)
    assert parent.data.metrics["best_val_f1"] == pytest.approx(top.value)
    assert parent.data.tags["best_trial"] == str(top.number)
    assert not list((root / "search").glob("trial-*"))  # scratch model folders are removed


def test_pruned_trials_stop_after_the_epoch_the_pruner_rejects(search_ws):
    root, params = search_ws
    tokenized = load_from_disk(str(root / paths.TOKENIZED_DIR))
    # every validation F1 is below 1.01: each trial is pruned after its first epoch
    result = run_search(
        params,
        tokenized,
        load_saved_tokenizer(root / paths.TOKENIZER_DIR),
        root / "search",
        n_trials=2,
        pruner=optuna.pruners.ThresholdPruner(lower=1.01),
    )
    assert [t.state for t in result.study.trials] == [TrialState.PRUNED] * 2
    assert all(list(t.intermediate_values) == [1] for t in result.study.trials)
    assert result.best is None and not (root / "search" / BEST_PARAMS_FILE).exists()
    client, _, children = search_runs(root)
    assert {c.data.tags["optuna_state"] for c in children} == {"PRUNED"}
    assert all(len(client.get_metric_history(c.info.run_id, "val_f1")) == 1 for c in children)


def test_pruning_callback_reports_each_epoch_and_raises_when_told():
    class Trial:
        reported = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return len(self.reported) >= 2

    class State:
        epoch = 1.0

    callback, trial, state = PruningCallback(Trial()), Trial, State()
    callback.on_evaluate(None, state, None, metrics={"eval_f1": 0.5})
    state.epoch = 2.0
    with pytest.raises(optuna.TrialPruned, match="after epoch 2"):
        callback.on_evaluate(None, state, None, metrics={"eval_f1": 0.4})
    assert trial.reported == [(1, 0.5), (2, 0.4)]


def test_a_second_search_on_the_same_study_is_refused(search_ws):
    root, params = search_ws
    from filelock import FileLock

    (root / "search").mkdir()
    with FileLock(str(root / "search" / SEARCH_LOCK)), pytest.raises(PipelineInputError, match="another search"):
        run_search(params, None, None, root / "search")


def test_killed_search_resumes_and_finishes_the_missing_trials(search_ws):
    root, params = search_ws
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, str(REPO / "tools" / "hparam_search.py")]
    killed = subprocess.run(
        [sys.executable, str(REPO / "tests" / "search_then_sigkill.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]  # killed at step 2 of the second trial
    trials = load_study(params, root / "search").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.RUNNING]
    killed_trial = trials[1]
    assert killed_trial.user_attrs.get("mlflow_run_id")
    _, parents, _ = search_runs(root)
    parent_id = parents[0].info.run_id

    resumed = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"trial(s) [{killed_trial.number}] were interrupted" in resumed.stdout

    trials = load_study(params, root / "search").trials
    states = [t.state for t in trials]
    assert states.count(TrialState.FAIL) == 1 and trials[killed_trial.number].state == TrialState.FAIL
    assert sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states) == 3
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == killed_trial.number)
    assert retry.params == killed_trial.params  # the interrupted settings were tried again

    client, parents, children = search_runs(root)
    assert [p.info.run_id for p in parents] == [parent_id]  # the same parent run, continued
    assert client.get_run(parent_id).info.status == "FINISHED"
    by_trial = {c.data.tags["optuna_trial"]: c for c in children}
    assert by_trial[str(killed_trial.number)].info.status == "KILLED"
    assert sum(c.info.status == "FINISHED" for c in children) == 3
    assert (root / "search" / BEST_PARAMS_FILE).is_file()
