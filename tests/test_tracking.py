import os
import subprocess
import sys
from pathlib import Path

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
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")  # the user's, read when needed
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
        assert "MLFLOW_TRACKING_URI" not in os.environ  # pointing MLflow at a store leaves the variable alone


@pytest.mark.slow
def test_concurrent_first_use_of_a_new_store(tmp_path):
    # four processes create the same new store and experiment at once
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = f"from sentiment_pipeline.tracking import prepare_experiment; print(prepare_experiment('race', {uri!r}))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    assert len({out.strip() for out, _ in results}) == 1  # one experiment, the same id for all
    assert len(MlflowClient(uri).search_experiments(filter_string="name = 'race'")) == 1


def test_an_experiment_another_process_created_meanwhile_is_used(tmp_path, monkeypatch):
    # search workers started together on one server: both look, both miss, both create
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    theirs = tracking.prepare_experiment("shared", uri)  # the worker that won
    real_lookup = MlflowClient.get_experiment_by_name
    lookups = []

    def missed_the_first_time(self, name):
        lookups.append(name)
        return None if len(lookups) == 1 else real_lookup(self, name)

    monkeypatch.setattr(MlflowClient, "get_experiment_by_name", missed_the_first_time)
    assert tracking.prepare_experiment("shared", uri) == theirs
    assert lookups == ["shared", "shared"]
    assert len(MlflowClient(uri).search_experiments(filter_string="name = 'shared'")) == 1


def test_tags_tie_the_run_to_git_and_dvc(monkeypatch, tmp_path):
    monkeypatch.setenv("DVC_EXP_NAME", "my-exp")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc123")
    repo = tmp_path / "repo"
    repo.mkdir()
    git = {"cwd": repo, "check": True, "capture_output": True, "text": True}
    subprocess.run(["git", "init", "-q"], **git)
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", *identity, "commit", "-q", "--allow-empty", "-m", "x"], **git)
    head = subprocess.run(["git", "rev-parse", "HEAD"], **git).stdout.strip()
    monkeypatch.chdir(repo)
    tags = tracking.run_tags(Params(), "base/model-x")
    assert tags["dvc_exp_name"] == "my-exp" and tags["dvc_exp_baseline_rev"] == "abc123"
    assert "data_source" not in tags  # provenance comes from the data's hash (tag_training_outputs)
    assert tags["model_name"] == "base/model-x" and tags["model_type"] == Params().model.type
    assert tags["mlflow.source.git.commit"] == head and "git_commit" not in tags  # one tag for one fact
    # outside a git work tree (a DVC temp workspace can be one): the experiment's baseline commit
    monkeypatch.chdir(tmp_path)
    assert tracking.run_tags(Params(), "m")["mlflow.source.git.commit"] == "abc123"


def test_resume_of_a_model_no_run_trained_warns_and_logs_nothing(monkeypatch, tmp_path):
    # a fresh clone: models/best was trained on another machine, this store has no run for it
    monkeypatch.chdir(tmp_path)
    model_dir = tmp_path / "best"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(b"weights")
    with pytest.warns(UserWarning, match="no MLflow run .* trained"), tracking.resume_run(model_dir, "x") as run:
        assert run is None
    assert mlflow.search_runs(search_all_experiments=True).empty
    with pytest.raises(FileNotFoundError, match="train stage"), tracking.resume_run(tmp_path / "missing", "x"):
        pass


def test_resume_finds_the_run_that_wrote_the_model_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    model_dir = tmp_path / "best"
    model_dir.mkdir()
    tracking.prepare_experiment("x")
    ids = []
    for content in (b"first", b"second"):
        (model_dir / "model.safetensors").write_bytes(content)
        with mlflow.start_run(experiment_id=tracking.prepare_experiment("x")) as run:
            tracking.tag_training_outputs(model_dir, None, {"base_model": {"name": "pip:m", "revision": None}})
            ids.append(run.info.run_id)
    assert mlflow.get_run(ids[1]).data.tags["base_model.name"] == "pip:m"
    assert "base_model.revision" not in mlflow.get_run(ids[1]).data.tags
    with tracking.resume_run(model_dir, "x") as run:  # the folder now holds what the second run wrote
        assert run.info.run_id == ids[1]
    (model_dir / "model.safetensors").write_bytes(b"first")
    assert tracking.find_training_run(model_dir, "x") == ids[0]


def test_the_artifact_location_is_a_plain_absolute_path(tmp_path):
    # "sqlite:////abs/mlflow.db": artifacts beside it at /abs/mlartifacts, not //abs/mlartifacts
    uri = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    experiment_id = tracking.prepare_experiment("plain", uri)
    location = tracking.MlflowClient(uri).get_experiment(experiment_id).artifact_location
    assert location == str(tmp_path.resolve() / "mlartifacts")


def test_an_unreachable_tracking_server_fails_without_retries_with_one_line(monkeypatch):
    import socket

    import mlflow.utils.rest_utils as rest_utils

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    attempts = []
    real = rest_utils.http_request

    def counted(*args, **kwargs):
        attempts.append(kwargs.get("max_retries"))
        return real(*args, **kwargs)

    monkeypatch.setattr(rest_utils, "http_request", counted)
    with pytest.raises(tracking.StoreError, match=rf"MLflow tracking server http://127.0.0.1:{port} cannot be used"):
        tracking.prepare_experiment("x", f"http://127.0.0.1:{port}")
    # no minutes of MLflow's default retries (7, with backoff): a few requests, none retried
    assert 1 <= len(attempts) <= 3
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"


def test_a_corrupt_store_is_named_and_left_alone(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(tracking.StoreError, match=rf"MLflow store {corrupt} cannot be used .* move it away"):
        tracking.prepare_experiment("x", f"sqlite:///{corrupt}")
    assert corrupt.read_bytes().startswith(b"this is not")  # left as it was


def test_a_read_only_store_is_named_up_front_and_left_alone(tmp_path, monkeypatch):
    db = (tmp_path / "mlflow.db").resolve()
    uri = f"sqlite:///{db}"
    tracking.prepare_experiment("x", uri)  # a store that holds the experiment: MLflow would read it without a word
    before = db.read_bytes()
    writable = os.access  # root may write anything: the test makes os.access say what a read-only mount says
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == db and mode & os.W_OK else writable(p, mode))
    with pytest.raises(tracking.StoreError, match=rf"MLflow store {db} is read-only: make it writable"):
        tracking.prepare_experiment("x", uri)
    assert db.read_bytes() == before
