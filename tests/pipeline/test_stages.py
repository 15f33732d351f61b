"""Each stage script on the tiny fixtures, in one workspace (no DVC). A test runs
the stages its stage needs first, once, so any test runs alone or in any order."""

import json

import mlflow
import pandas as pd
import pytest
import yaml
from datasets import load_from_disk
from huggingface_hub import ModelCard
from mlflow.tracking import MlflowClient

from sentiment_pipeline import paths
from tests.fixtures import training_run
from tests.helpers import run_stages, tiny_params

ORDER = ("download", "clean", "tokenize", "train", "evaluate", "plot")


@pytest.fixture(scope="module")
def run_until(tmp_path_factory, imdb_dir, tiny_model_dir):
    """run_until(stage): the workspace once `stage` and every stage before it have run (each once)."""
    root = tmp_path_factory.mktemp("workspace")
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(imdb_dir, tiny_model_dir)))
    done: list[str] = []

    def run(stage: str):
        for name in ORDER[: ORDER.index(stage) + 1]:
            if name not in done:
                run_stages(root, name)
                done.append(name)
        return root

    yield run
    mlflow.set_tracking_uri(None)


def test_download(run_until):
    workspace = run_until("download")
    train = pd.read_parquet(workspace / "data/raw/train.parquet")
    test = pd.read_parquet(workspace / "data/raw/test.parquet")
    assert (len(train), len(test)) == (123, 61)  # without the unlabelled rows (-1)
    assert set(train["label"]) == {0, 1} and set(test["label"]) == {0, 1}


def test_clean(run_until):
    workspace = run_until("clean")
    report = json.loads((workspace / paths.CLEAN_REPORT).read_text())["clean"]
    assert report["train"]["dropped_empty"] == 1
    assert report["train"]["dropped_duplicates"] == 1
    assert report["train"]["dropped_test_overlap"] == 1
    tables = {s: pd.read_parquet(workspace / f"data/clean/{s}.parquet") for s in paths.SPLITS}
    assert len(tables["train"]) + len(tables["validation"]) == 120
    assert len(tables["test"]) == 60 and report["test"]["dropped_empty"] == 1
    assert not tables["train"]["text"].str.contains("<br").any()


def test_tokenize(run_until):
    workspace = run_until("tokenize")
    tokenized = load_from_disk(str(workspace / paths.TOKENIZED_DIR))
    assert set(tokenized) == set(paths.SPLITS)
    train = tokenized["train"]
    assert {"input_ids", "attention_mask", "label", "n_words", "n_tokens", "length", "truncated"} <= set(
        train.column_names
    )
    assert max(train["length"]) == 64 and any(train["truncated"])


def test_train(run_until):
    workspace = run_until("train")
    model_dir = workspace / paths.MODEL_DIR
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "tokenizer.json").is_file()
    assert not list(model_dir.glob("*.bin")) and not list(model_dir.glob("*.pt*"))  # no pickles
    assert json.loads((model_dir / "sentiment_pipeline.json").read_text())["max_length"] == 64
    # a finished training leaves no checkpoint, only a state that makes the next run start fresh
    checkpoints = workspace / paths.CHECKPOINT_DIR
    assert [p.name for p in checkpoints.iterdir()] == ["state.json"]
    assert json.loads((checkpoints / "state.json").read_text())["status"] == "finished"
    metrics = json.loads((workspace / paths.TRAIN_METRICS).read_text())
    history = pd.read_csv(workspace / paths.TRAIN_HISTORY)
    assert list(history["epoch"]) == [1, 2, 3] and metrics["epochs_run"] == 3
    assert metrics["val_f1"] == history["val_f1"].max()
    assert {"train_loss", "val_loss", "val_accuracy", "val_f1"} <= set(history.columns)
    # times go to timings/ (and MLflow), not into the DVC outputs: a rerun rewrites those byte for byte
    assert not set(paths.TIMING_COLUMNS) & set(history.columns) and paths.TIMING_KEY not in metrics
    timing = json.loads((workspace / paths.TRAIN_TIMING).read_text())
    assert [row["epoch"] for row in timing["epochs"]] == [1, 2, 3]
    assert timing["train_runtime_s"] == pytest.approx(sum(row["epoch_time_s"] for row in timing["epochs"]), abs=0.01)
    assert len(pd.read_csv(workspace / paths.TRAIN_STEPS)) >= 2
    # the folder carries its model card, with the figures of metrics/train.json
    card = ModelCard.load(workspace / paths.MODEL_CARD)
    (validation,) = [r for r in card.data.eval_results if r.metric_type == "accuracy"]
    assert validation.dataset_split == "validation" and validation.metric_value == round(metrics["val_accuracy"], 4)


def test_train_logged_an_mlflow_run(run_until):
    workspace = run_until("train")
    run = training_run(workspace)
    assert run.data.params["train.loss.length_weight"] == "0.5"
    assert run.data.params["train.loss.confidence_penalty"] == "1.0"
    model_name = yaml.safe_load((workspace / "params.yaml").read_text())["model"]["name"]
    assert run.data.params["model.name"] == run.data.tags["model_name"] == model_name
    assert "best_val_f1" in run.data.metrics and "timing_train_runtime_s" in run.data.metrics
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_f1")] == [1, 2, 3]


def test_evaluate(run_until):
    workspace = run_until("evaluate")
    metrics = json.loads((workspace / paths.EVAL_REPORT).read_text())
    # metrics/eval.json: the figures runs are compared by, the same numbers as the full report
    headline = json.loads((workspace / paths.EVAL_METRICS).read_text())
    assert list(headline) == ["accuracy", "f1", "roc_auc", "log_loss", "brier", "ece", "ece_scaled"] + [
        "log_loss_scaled",
        "temperature",
        "n_examples",
    ]
    assert headline == {k: metrics[k] for k in headline}
    # temperature scaling: the model folder's T, calibration before and after, accuracy untouched
    temperature = json.loads((workspace / paths.MODEL_DIR / "sentiment_pipeline.json").read_text())["temperature"]
    assert (
        metrics["temperature"]
        == temperature
        == json.loads((workspace / paths.TRAIN_METRICS).read_text())["temperature"]
    )
    assert {"ece_scaled", "mce_scaled", "log_loss_scaled", "brier_scaled"} <= set(metrics)
    assert (workspace / paths.CALIBRATION_SCALED).is_file()
    predictions = pd.read_csv(workspace / paths.PREDICTIONS)
    assert metrics["accuracy"] == (predictions["label"] == predictions["predicted"]).mean()
    assert {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
        "pr_auc",
        "brier",
        "ece",
        "mce",
        "f1_neg",
        "f1_pos",
        "f1_macro",
        "truncated_share",
    } <= set(metrics)
    assert 0 <= metrics["ece"] <= metrics["mce"] <= 1
    assert sum(b["n"] for b in metrics["by_length"].values()) == 60


def test_evaluate_reports_to_mlflow_the_card_and_the_error_analysis(run_until):
    workspace = run_until("evaluate")
    metrics = json.loads((workspace / paths.EVAL_REPORT).read_text())
    # the throughput: in timings/ and the MLflow run, not in metrics/eval.json (it differs run to run)
    throughput = json.loads((workspace / paths.EVAL_TIMING).read_text())["examples_per_s"]
    assert paths.TIMING_KEY not in metrics and throughput > 0
    assert training_run(workspace).data.metrics["test_timing_examples_per_s"] == throughput
    card = ModelCard.load(workspace / paths.MODEL_CARD_REPORT)
    test_f1 = [r.metric_value for r in card.data.eval_results if (r.dataset_split, r.metric_type) == ("test", "f1")]
    assert test_f1 == [round(metrics["f1"], 4)]
    errors = json.loads((workspace / paths.ERRORS_JSON).read_text())
    assert errors["n_errors"] == round((1 - metrics["accuracy"]) * 60)
    assert errors["false_positives"] + errors["false_negatives"] == errors["n_errors"]
    assert (workspace / paths.ERRORS_MD).read_text().startswith("# Error analysis")
    assert metrics["n_examples"] == 60
    predictions = pd.read_csv(workspace / paths.PREDICTIONS)
    assert len(predictions) == 60
    assert metrics["accuracy"] == pytest.approx((predictions["label"] == predictions["predicted"]).mean())
    # the tiny model learns the fixture's cue words
    assert metrics["accuracy"] > 0.8
    run = training_run(workspace)
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    assert run.data.metrics["test_ece"] == pytest.approx(metrics["ece"])
    assert run.data.metrics["test_by_length_q4_accuracy"] == pytest.approx(metrics["by_length"]["q4"]["accuracy"])
    assert metrics["dtype"] == json.loads((workspace / paths.TRAIN_METRICS).read_text())["dtype"] == "fp32"


def test_the_scaled_metrics_are_those_of_the_scaled_probabilities(run_until):
    import numpy as np

    workspace = run_until("evaluate")
    metrics = json.loads((workspace / paths.EVAL_REPORT).read_text())
    p = pd.read_csv(workspace / paths.PREDICTIONS)
    labels, raw, scaled = p["label"].to_numpy(), p["prob_pos"].to_numpy(), p["prob_pos_scaled"].to_numpy()
    t = metrics["temperature"]
    # prob_scaled = sigmoid(logit(prob) / T), from the unscaled column (6 decimals written)
    logit = np.log(np.clip(raw, 1e-6, 1 - 1e-6) / np.clip(1 - raw, 1e-6, 1))
    np.testing.assert_allclose(scaled, 1 / (1 + np.exp(-logit / t)), atol=2e-3)
    assert not np.allclose(scaled, raw, atol=1e-3)  # the temperature moved them
    # ECE by hand: 15 equal-width bins of the confidence, |accuracy - confidence| weighted by bin size
    confidence = np.maximum(scaled, 1 - scaled)
    right = (scaled >= 0.5) == labels
    bins = np.minimum((confidence * 15).astype(int), 14)
    ece = sum(abs(right[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean() for b in set(bins))
    assert metrics["ece_scaled"] == pytest.approx(ece, abs=1e-4)
    eps = 1e-15
    log_loss = -np.mean(labels * np.log(np.maximum(scaled, eps)) + (1 - labels) * np.log(np.maximum(1 - scaled, eps)))
    assert metrics["log_loss_scaled"] == pytest.approx(log_loss, abs=1e-4)
    assert metrics["brier_scaled"] == pytest.approx(np.mean((scaled - labels) ** 2), abs=1e-5)
    assert metrics["log_loss_scaled"] != pytest.approx(metrics["log_loss"], abs=1e-4)


def test_each_prediction_names_its_row_in_the_source_test_split(run_until, imdb_dir):
    from sentiment_pipeline.data.text import clean_text

    workspace = run_until("evaluate")
    predictions = pd.read_csv(workspace / paths.PREDICTIONS)
    source = pd.read_parquet(imdb_dir / "plain_text/test-00000-of-00001.parquet")
    texts = pd.read_parquet(workspace / "data/clean/test.parquet")[paths.TEXT]
    assert len(source) > len(predictions)  # rows were dropped (unlabelled, empty), so position != row
    assert predictions[paths.ROW].is_unique
    assert (source[paths.LABEL].to_numpy()[predictions[paths.ROW]] == predictions[paths.LABEL]).all()
    assert [clean_text(t) for t in source[paths.TEXT].to_numpy()[predictions[paths.ROW]]] == texts.tolist()


def test_plot(run_until):
    workspace = run_until("plot")
    pngs = sorted(p.name for p in (workspace / paths.PLOTS_DIR).glob("*.png"))
    assert pngs == sorted(
        [
            "train_loss.png",
            "validation_metrics.png",
            "validation_f1_smoothed.png",
            "roc_curve.png",
            "confusion_matrix.png",
            "pr_curve.png",
            "reliability_diagram.png",
            "reliability_diagram_scaled.png",
            "confidence_histogram.png",
            "accuracy_by_length.png",
        ]
    )
    run = training_run(workspace)
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    logged = sorted(a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "plots"))
    assert logged == pngs
