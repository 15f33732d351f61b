"""The evaluate stage logs and registers the model as an MLflow pyfunc model;
`mlflow models serve` answers real HTTP requests with it, and survives bad ones."""

import importlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from sentiment_pipeline import paths
from tests.fixtures import training_run
from tests.local_server import free_port, wait_until_up

NAME = "tiny-sentiment"


@pytest.fixture(scope="module")
def registered(tmp_path_factory, tokenized_workspace):
    root = tmp_path_factory.mktemp("registered")
    shutil.copytree(tokenized_workspace / "data", root / "data")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["train"]["epochs"] = 1
    params["mlflow"].update(log_model=True, registered_model=NAME)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for stage in ("train", "evaluate"):
            importlib.import_module(f"stages.{stage}").main()
    return root


def test_evaluate_registers_a_version_with_signature_and_scores(registered):
    uri = f"sqlite:///{registered / 'mlflow.db'}"
    client = MlflowClient(uri)
    version = client.get_model_version(NAME, "1")
    assert version.run_id == training_run(registered).info.run_id
    accuracy = json.loads((registered / paths.EVAL_METRICS).read_text())["accuracy"]
    assert version.tags["test_accuracy"] == f"{accuracy:.4f}"
    mlflow.set_tracking_uri(uri)
    info = mlflow.models.get_model_info(f"models:/{NAME}/1")
    assert [c["name"] for c in info.signature.inputs.to_dict()] == ["text"]
    assert [c["name"] for c in info.signature.outputs.to_dict()] == ["label", "confidence", "score_neg", "score_pos"]
    model = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    out = model.predict(pd.DataFrame({"text": ["great superb film", "awful dull mess"]}))
    assert list(out.columns) == ["label", "confidence", "score_neg", "score_pos"] and len(out) == 2
    assert set(out["label"]) <= {"neg", "pos"}


def _post(url, payload):
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_mlflow_models_serve_answers_invocations(registered):
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{registered / 'mlflow.db'}",
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            f"models:/{NAME}/1",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=registered,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, f"{base}/ping", 180)

        status, body = _post(
            f"{base}/invocations", {"dataframe_records": [{"text": "great superb film"}, {"text": "awful dull mess"}]}
        )
        assert status == 200, body
        rows = body["predictions"]
        assert len(rows) == 2 and {"label", "confidence", "score_neg", "score_pos"} <= set(rows[0])
        assert abs(rows[0]["score_neg"] + rows[0]["score_pos"] - 1) < 1e-6

        status, body = _post(f"{base}/invocations", {"dataframe_records": [{"text": "fine"}, {"text": "  "}]})
        assert status == 400 and "text 1 is empty" in body.get("message", ""), body
        status, body = _post(f"{base}/invocations", {"dataframe_records": [{"review": "fine"}]})
        assert status == 400, body
        status, body = _post(f"{base}/invocations", {"dataframe_records": [{"text": 5}]})
        assert status == 400, body
        # 100,000 texts: refused at once, naming the limit, not left to the request timeout
        status, body = _post(f"{base}/invocations", {"inputs": {"text": ["good film"] * 100_000}})
        assert status == 400 and "100,000 texts, more than max_texts=1,024" in body.get("message", ""), body
        # a 1 MB review is cut to the model's token budget, as in training
        status, body = _post(f"{base}/invocations", {"inputs": {"text": ["superb film " * 90_000]}})
        assert status == 200 and len(body["predictions"]) == 1, body
        # still serving after the bad requests
        status, body = _post(f"{base}/invocations", {"inputs": {"text": ["superb"]}})
        assert status == 200 and len(body["predictions"]) == 1, body
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


def test_the_demo_names_a_registered_version_and_its_tagged_accuracy(registered, monkeypatch):
    from sentiment_pipeline.serving.demo import describe_model

    monkeypatch.chdir(registered)  # the workspace's mlflow.db is the default store
    card = describe_model(f"models:/{NAME}/1", analyzer=None, metrics=None)
    accuracy = json.loads((registered / paths.EVAL_METRICS).read_text())["accuracy"]
    assert card.name == f"{NAME} v1" and card.test_accuracy == pytest.approx(accuracy, abs=1e-4)
    assert describe_model(f"models:/{NAME}/7", analyzer=None, metrics=None).test_accuracy is None
