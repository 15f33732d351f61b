"""The evaluate stage logs and registers the model as an MLflow pyfunc model;
`mlflow models serve` answers real HTTP requests with it, and survives bad ones."""

import importlib
import json
import os
import shutil
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
from tests.helpers import run_stages
from tests.local_server import free_port, running_server

NAME = "tiny-sentiment"
# reviews the tiny model scores differently (checked), so a constant or shuffled answer fails
TEXTS = [
    "great superb film",
    "awful dull mess",
    "the plot was a waste and the cast was boring",
    "a moving masterpiece, loved the music <br /><br /> brilliant",
]


def analyzer_rows(root, texts):
    """What SentimentAnalyzer says of `texts` with the workspace's model folder."""
    from sentiment_pipeline.inference.analyzer import SentimentAnalyzer

    analyzer = SentimentAnalyzer.from_pretrained(root / paths.MODEL_DIR)
    rows = [{"label": p.label, "score_pos": p.scores["pos"]} for p in analyzer.predict_batch(texts)]
    assert len({round(r["score_pos"], 4) for r in rows}) == len(rows), "the fixture texts must score apart"
    return rows


def assert_same_predictions(got, expected):
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    assert [r["score_pos"] for r in got] == pytest.approx([r["score_pos"] for r in expected], abs=1e-5)
    for row in got:
        assert row["confidence"] == pytest.approx(max(row["score_neg"], row["score_pos"]), abs=1e-6)
        assert row["score_neg"] + row["score_pos"] == pytest.approx(1.0, abs=1e-6)


@pytest.fixture(scope="module")
def registered(tmp_path_factory, tokenized_workspace):
    root = tmp_path_factory.mktemp("registered")
    shutil.copytree(tokenized_workspace / "data", root / "data")
    params = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params["mlflow"].update(log_model=True, registered_model=NAME)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return run_stages(root, "train", "evaluate")


def test_evaluate_registers_a_version_with_signature_and_scores(registered):
    uri = f"sqlite:///{registered / 'mlflow.db'}"
    client = MlflowClient(uri)
    version = client.get_model_version(NAME, "1")
    assert version.run_id == training_run(registered).info.run_id
    scores = json.loads((registered / paths.EVAL_METRICS).read_text())
    tagged = {k: v for k, v in version.tags.items() if k.startswith("test_")}
    assert tagged == {f"test_{k}": f"{scores[k]:.4f}" for k in ("accuracy", "f1", "ece")}
    mlflow.set_tracking_uri(uri)
    try:
        info = mlflow.models.get_model_info(f"models:/{NAME}/1")
        assert [c["name"] for c in info.signature.inputs.to_dict()] == ["text"]
        outputs = ["label", "confidence", "score_neg", "score_pos"]
        assert [c["name"] for c in info.signature.outputs.to_dict()] == outputs
        assert [p.name for p in info.signature.params] == ["batch_size"]  # no request-side limits
        model = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
        out = model.predict(pd.DataFrame({"text": TEXTS}))
        assert list(out.columns) == outputs
        assert_same_predictions(out.to_dict("records"), analyzer_rows(registered, TEXTS))
    finally:
        mlflow.set_tracking_uri(None)  # the next test in this process gets the default store back


def _post(url, payload):
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _serve_command(port):
    return [
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
    ]


@pytest.fixture
def served(registered):
    """`mlflow models serve` on the registered version (a limit of 1,000 texts a request): its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{registered / 'mlflow.db'}",
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
        "SENTIMENT_PIPELINE_MAX_TEXTS": "1000",  # the request limit is set by whoever starts the server
    }
    base = f"http://127.0.0.1:{port}"
    with running_server(_serve_command(port), registered, env, f"{base}/ping", 180):
        yield base


def _assert_refused(url, payload, message):
    status, body = _post(url, payload)
    assert status == 400 and message in body.get("message", ""), body


def _assert_one_prediction(url, payload):
    status, body = _post(url, payload)
    assert status == 200 and len(body["predictions"]) == 1, body


@pytest.mark.slow
def test_mlflow_models_serve_answers_invocations(served, registered):
    url = f"{served}/invocations"
    # the served answers are the model's: the analyzer's on the same folder, row for row
    expected = analyzer_rows(registered, TEXTS)
    status, body = _post(url, {"dataframe_records": [{"text": t} for t in TEXTS]})
    assert status == 200, body
    assert_same_predictions(body["predictions"], expected)
    status, body = _post(url, {"inputs": {"text": TEXTS[::-1]}})
    assert status == 200, body
    assert_same_predictions(body["predictions"], expected[::-1])

    _assert_refused(url, {"dataframe_records": [{"text": "fine"}, {"text": "  "}]}, "text 1 is empty")
    _assert_refused(
        url, {"dataframe_records": [{"text": "fine"}, {"text": "<br /><br />"}]}, "text 1 is empty after cleaning"
    )
    _assert_refused(url, {"dataframe_records": [{"review": "fine"}]}, "Model is missing inputs ['text']")
    _assert_refused(url, {"dataframe_records": [{"text": 5}]}, "text 0 is a int, not a string")
    # 100,000 texts: refused at once, naming the limit, not left to the request timeout
    _assert_refused(
        url, {"inputs": {"text": ["good film"] * 100_000}}, "100,000 texts, more than this server's limit of 1,000"
    )
    # ... and no request can lift it (MLflow drops params that are not in the signature)
    request = {"inputs": {"text": ["good film"] * 1_001}, "params": {"max_texts": 100_000}}
    _assert_refused(url, request, "1,001 texts, more than this server's limit of 1,000")
    request = {"inputs": {"text": ["good"]}, "params": {"batch_size": 10**6}}
    _assert_refused(url, request, "params.batch_size must be an integer in [1, 256]")
    request = {"inputs": {"text": ["x" * 2_000_001]}}
    _assert_refused(url, request, "text 0 has 2,000,001 characters, more than the limit")
    # a 1 MB review is cut to the model's token budget, as in training
    _assert_one_prediction(url, {"inputs": {"text": ["superb film " * 90_000]}})
    # still serving after the bad requests
    _assert_one_prediction(url, {"inputs": {"text": ["superb"]}})


def test_the_demo_names_a_registered_version_and_its_tagged_accuracy(registered, monkeypatch):
    from sentiment_pipeline.serving.demo import describe_model

    monkeypatch.chdir(registered)  # the workspace's mlflow.db is the default store
    card = describe_model(f"models:/{NAME}/1", analyzer=None, metrics=None)
    accuracy = json.loads((registered / paths.EVAL_METRICS).read_text())["accuracy"]
    assert card.name == f"{NAME} v1" and card.test_accuracy == pytest.approx(accuracy, abs=1e-4)
    assert describe_model(f"models:/{NAME}/7", analyzer=None, metrics=None).test_accuracy is None


@pytest.fixture
def registry_store(registered, monkeypatch):
    """The registered workspace's store as the user's MLFLOW_TRACKING_URI."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{registered / 'mlflow.db'}")
    monkeypatch.setenv("TMPDIR", str(registered / "downloads"))  # where MLflow downloads artifacts to
    (registered / "downloads").mkdir(exist_ok=True)
    return registered


def mlflow_uris(root) -> list[str]:
    run_id = training_run(root).info.run_id
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    logged = client.get_model_version(NAME, "1").source  # models:/m-<id>: the logged model
    return [f"models:/{NAME}/1", f"runs:/{run_id}/model", logged]


def test_the_analyzer_loads_models_and_runs_uris(registry_store):
    from sentiment_pipeline.inference.analyzer import SentimentAnalyzer

    expected = analyzer_rows(registry_store, TEXTS)
    for uri in mlflow_uris(registry_store):
        analyzer = SentimentAnalyzer.from_pretrained(uri, device="cpu")
        got = [{"label": p.label, "score_pos": p.scores["pos"]} for p in analyzer.predict_batch(TEXTS)]
        assert [r["label"] for r in got] == [r["label"] for r in expected], uri
        assert [r["score_pos"] for r in got] == pytest.approx([r["score_pos"] for r in expected], abs=1e-6), uri


def test_the_cli_predicts_with_a_registered_model(registry_store, capsys):
    from sentiment_pipeline.serving.cli import main

    expected = analyzer_rows(registry_store, TEXTS[:2])
    for uri in (f"models:/{NAME}/1", f"runs:/{training_run(registry_store).info.run_id}/model"):
        assert main(["predict", "--model", uri, "--device", "cpu", *TEXTS[:2]]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["label"] for r in rows] == [r["label"] for r in expected]
        assert [r["scores"]["pos"] for r in rows] == pytest.approx([r["score_pos"] for r in expected], abs=1e-5)
    assert main(["predict", "--model", f"models:/{NAME}/9", "--device", "cpu", "good"]) == 2
    assert f"cannot load MLflow model 'models:/{NAME}/9'" in capsys.readouterr().err


def test_the_demo_serves_a_registered_model(registry_store):
    from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
    from sentiment_pipeline.serving.demo import build_app, describe_model

    uri = f"models:/{NAME}/1"
    analyzer = SentimentAnalyzer.from_pretrained(uri, device="cpu")
    app = build_app(analyzer, describe_model(uri, analyzer, metrics=None))
    classify = next(fn.fn for fn in app.fns.values() if fn.fn is not None and fn.fn.__name__ == "classify")
    expected = analyzer_rows(registry_store, TEXTS[:1])[0]
    scores, note = classify(TEXTS[0])
    assert max(scores, key=scores.get).lower().startswith(expected["label"])
    assert max(scores.values()) == pytest.approx(max(expected["score_pos"], 1 - expected["score_pos"]), abs=1e-6)
    assert "whole review" in note


def test_the_pyfunc_is_type_hinted_so_mlflow_does_not_warn():
    """MLflow warns "Add type hints to the `predict` method" for a PythonModel without them."""
    import warnings

    from sentiment_pipeline.serving import pyfunc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        importlib.reload(pyfunc)  # the warning comes when the class is defined
    assert not [w for w in caught if "type hints" in str(w.message)], [str(w.message) for w in caught]
    assert pyfunc.SentimentModel().predict_type_hints.input is pd.DataFrame
