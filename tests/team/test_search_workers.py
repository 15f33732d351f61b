"""Two search workers, one Optuna study on the stack's PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.training.search import CHILD_RUN_ATTR
from sentiment_pipeline.training.search_storage import open_storage
from tests.helpers import REPO
from tests.team.conftest import client_env

pytestmark = pytest.mark.slow  # real servers, two processes


def worker_copy(tokenized_workspace, root, study):
    shutil.copytree(tokenized_workspace / "data", root / "data")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["search"].update(study_name=study, n_trials=4, epochs=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def test_two_workers_split_the_trials_of_one_study(stack, tokenized_workspace, tmp_path, monkeypatch):
    study_name = f"team-{tmp_path.name}"
    env = client_env(stack, SENTIMENT_SEARCH_STORAGE=stack.db_url("optuna"))
    roots = [worker_copy(tokenized_workspace, tmp_path / f"worker{i}", study_name) for i in (1, 2)]
    tool = [sys.executable, str(REPO / "tools" / "hparam_search.py")]
    workers = [
        subprocess.Popen(tool, cwd=r, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for r in roots
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[-1500:] for o in outputs]

    study = optuna.load_study(study_name=study_name, storage=stack.db_url("optuna"))
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert 4 <= len(finished) <= 5  # a worker may start one more while the other finishes the 4th
    assert len({t.number for t in study.trials}) == len(study.trials)  # none twice
    assert len({t.user_attrs["worker"] for t in finished}) == 2  # both workers ran trials
    child_runs = [t.user_attrs[CHILD_RUN_ATTR] for t in finished]
    assert len(set(child_runs)) == len(child_runs)
    for key, value in env.items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    best = MlflowClient(stack.tracking_uri).get_run(study.best_trial.user_attrs[CHILD_RUN_ATTR])
    assert best.data.metrics["val_f1"] == pytest.approx(study.best_value)


def test_a_wrong_database_password_is_one_line_without_the_password(stack, monkeypatch):
    url = stack.db_url("optuna", password="not-the-password")
    monkeypatch.setenv("SENTIMENT_SEARCH_STORAGE", url)
    with pytest.raises(PipelineInputError) as err:
        open_storage(REPO / "unused.journal")
    message = str(err.value)
    assert "not-the-password" not in message and stack.db_url("optuna", password="***") in message
    assert "\n" not in message and "password authentication failed" in message
