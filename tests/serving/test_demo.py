"""The web demo (`python -m sentiment_pipeline demo`) in a real headless browser:
Debian's chromium driven by Playwright, against the app served on 127.0.0.1."""

import importlib.util
import json
import os
import shutil
import sys

import pytest

from sentiment_pipeline import paths
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from sentiment_pipeline.serving.demo import describe_model
from tests.helpers import REPO
from tests.local_server import free_port, running_server

_spec = importlib.util.spec_from_file_location("demo_in_browser", REPO / "tools" / "demo_in_browser.py")
demo_in_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_in_browser)


@pytest.fixture(scope="module")
def demo_url(trained_workspace, tmp_path_factory):
    """The demo serving the tiny model, with an eval.json that scores it 75%."""
    metrics = tmp_path_factory.mktemp("demo") / "eval.json"
    metrics.write_text(json.dumps({"accuracy": 0.75}))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False"}
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "sentiment_pipeline",
        "demo",
        "--model",
        str(trained_workspace / paths.MODEL_DIR),
        "--metrics",
        str(metrics),
        "--port",
        str(port),
        "--device",
        "cpu",
    ]
    with running_server(command, trained_workspace, env, url, 120):
        yield url


def test_typing_a_review_shows_the_label_bars_and_model_card(demo_url, chromium, trained_workspace, tmp_path):
    review = "great superb wonderful film, a moving story"
    shot = tmp_path / "demo.png"
    page = demo_in_browser.classify_in_browser(demo_url, review, screenshot=shot, chromium=chromium)

    expected = SentimentAnalyzer.from_pretrained(trained_workspace / paths.MODEL_DIR, device="cpu").predict(review)
    names = {"neg": "negative", "pos": "positive"}
    assert page["label"] == names[expected.label]
    assert page["bars"] == pytest.approx({names[k]: 100 * v for k, v in expected.scores.items()}, abs=0.01)
    assert "75.00%" in page["model_card"] and "transformer" in page["model_card"]
    assert "read the whole review" in page["note"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_bad_input_in_the_page_gets_a_message_and_the_app_stays_up(demo_url, chromium, trained_workspace):
    empty = demo_in_browser.classify_in_browser(demo_url, "   \n ", chromium=chromium)
    assert "Enter a review first" in empty["error"]
    tags_only = demo_in_browser.classify_in_browser(demo_url, "<br /><br />", chromium=chromium)
    assert "The review holds only HTML tags or invisible characters: there is nothing to classify" in tags_only["error"]
    review = "a dull film " * 20_000
    long = demo_in_browser.classify_in_browser(demo_url, review, chromium=chromium)
    expected = SentimentAnalyzer.from_pretrained(trained_workspace / paths.MODEL_DIR, device="cpu").predict(review)
    assert long["label"] == {"neg": "negative", "pos": "positive"}[expected.label]
    assert "Long review: 60,000 tokens" in long["note"]


def test_the_model_card_reads_the_workspace_metrics_for_models_best(trained_workspace, tmp_path, monkeypatch):
    shutil.copytree(trained_workspace / paths.MODEL_DIR, tmp_path / paths.MODEL_DIR)
    monkeypatch.chdir(tmp_path)
    analyzer = SentimentAnalyzer.from_pretrained(paths.MODEL_DIR, device="cpu")
    card = describe_model(str(paths.MODEL_DIR), analyzer, None)
    assert card.test_accuracy is None  # the train stage ran, the evaluate stage did not: no eval.json
    (tmp_path / paths.EVAL_METRICS).parent.mkdir(parents=True)
    (tmp_path / paths.EVAL_METRICS).write_text(json.dumps({"accuracy": 0.8125}))
    card = describe_model(str(paths.MODEL_DIR), analyzer, None)
    assert card.test_accuracy == 0.8125 and card.source == str(paths.EVAL_METRICS)
    # a folder elsewhere is not scored by the workspace's eval.json
    assert describe_model("/elsewhere/model", analyzer, None).test_accuracy is None
