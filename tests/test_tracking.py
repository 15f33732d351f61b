import json
import subprocess
import sys

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from sentiment_pipeline import tracking
from sentiment_pipeline.config import Params


def test_default_store_is_mlflow_db_at_the_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


def test_dvc_root_points_temp_workspaces_at_the_main_store(monkeypatch, tmp_path):
    main = tmp_path / "main"
    main.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(main))
    assert tracking.tracking_uri() == f"sqlite:///{main.resolve() / 'mlflow.db'}"
    monkeypatch.setattr(tracking, "_USER_TRACKING_URI", "http://127.0.0.1:5000")  # the user's, at start-up
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"


def test_store_follows_the_workspace_after_mlflow_set_tracking_uri(monkeypatch, tmp_path):
    # mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI; a second workspace in
    # the same process must still get its own store, not the first one's
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        uri = tracking.tracking_uri()
        assert uri == f"sqlite:///{(tmp_path / name).resolve() / 'mlflow.db'}"
        tracking.prepare_experiment("exp", uri)


def test_concurrent_first_use_of_a_new_store(tmp_path):
    # four processes create the same new store and experiment at once
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = f"from sentiment_pipeline.tracking import prepare_experiment; print(prepare_experiment('race', {uri!r}))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    assert len({out.strip() for out, _ in results}) == 1  # one experiment, the same id for all
    assert len(MlflowClient(uri).search_experiments(filter_string="name = 'race'")) == 1


def test_tags_tie_the_run_to_git_and_dvc(monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "my-exp")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc123")
    tags = tracking.run_tags(Params())
    assert tags["dvc_exp_name"] == "my-exp" and tags["dvc_exp_baseline_rev"] == "abc123"
    assert tags["data_source"] == "stanfordnlp/imdb"
    assert tags["model_name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert tags["mlflow.source.git.commit"] == tags["git_commit"]


def test_resume_of_a_run_missing_from_the_store_warns_and_logs_nothing(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    tracking.prepare_experiment("x")
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"run_id": "0" * 32, "experiment_id": "1"}))
    with pytest.warns(UserWarning, match="not in the store"):
        with tracking.resume_run(run_file) as run:
            assert run is None
    assert mlflow.search_runs(search_all_experiments=True).empty
    with pytest.raises(FileNotFoundError, match="train stage"):
        with tracking.resume_run(tmp_path / "missing.json"):
            pass


def test_the_artifact_location_is_a_plain_absolute_path(tmp_path):
    # "sqlite:////abs/mlflow.db": artifacts beside it at /abs/mlartifacts, not //abs/mlartifacts
    uri = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    experiment_id = tracking.prepare_experiment("plain", uri)
    location = tracking.MlflowClient(uri).get_experiment(experiment_id).artifact_location
    assert location == str(tmp_path.resolve() / "mlartifacts")
