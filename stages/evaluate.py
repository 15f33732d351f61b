"""Stage evaluate: models/best on the test split -> metrics/eval.json (the
headline metrics), reports/evaluation.json (all of them: per class, calibration,
by review length), predictions, curve data for the
plots, and the error analysis; all of it logged to the MLflow run, with the
model itself as an MLflow pyfunc model, registered under mlflow.registered_model."""

import json

import mlflow
import pandas as pd
from datasets import load_from_disk

from sentiment_pipeline import paths, tracking
from sentiment_pipeline.config import MlflowParams, load_params
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.evaluation.calibration import probabilities, reliability_table
from sentiment_pipeline.evaluation.error_analysis import error_analysis, to_markdown
from sentiment_pipeline.evaluation.metrics import predictions_table, roc_table
from sentiment_pipeline.evaluation.report import (
    evaluation_metrics,
    headline,
    length_bucket_table,
    pr_table,
    scaled_calibration_metrics,
)
from sentiment_pipeline.inference.predictor import predict_folder
from sentiment_pipeline.models import card
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.precision import resolve_precision
from sentiment_pipeline.serving.mlflow_model import log_and_register
from sentiment_pipeline.stage import run, write_csv, write_text


def main() -> None:
    all_params = load_params()
    params, mlflow_params = all_params.evaluate, all_params.mlflow
    test = load_from_disk(str(paths.TOKENIZED_DIR))["test"]
    texts = pd.read_parquet(paths.CLEAN_DIR / "test.parquet", columns=[paths.TEXT])[paths.TEXT]
    if len(texts) != len(test):
        raise PipelineInputError(
            f"{paths.CLEAN_DIR}/test.parquet has {len(texts)} rows, the tokenized test split "
            f"{len(test)}: rerun the tokenize stage"
        )
    temperature = ModelArtifact.read(paths.MODEL_DIR).temperature
    # in the precision the model was trained and its temperature fitted in (bf16 where the CPU has it)
    precision = resolve_precision(all_params.train.precision, resolve_device("auto"))
    margins, examples_per_s = predict_folder(
        paths.MODEL_DIR, test, params.batch_size, precision.device, precision.dtype
    )
    prob_pos, prob_scaled = probabilities(margins), probabilities(margins, temperature)
    columns = [paths.LABEL, paths.N_WORDS, paths.N_TOKENS, paths.TRUNCATED]
    rows = test.select_columns([paths.ROW])[paths.ROW] if paths.ROW in test.column_names else None
    info = test.select_columns(columns).to_pandas()
    labels = info[paths.LABEL].to_numpy()
    # the model as trained (prob_pos), and its calibration after temperature scaling (prob_scaled)
    metrics = evaluation_metrics(labels, prob_pos, info[paths.N_TOKENS], info[paths.TRUNCATED], params.calibration_bins)
    metrics.update(scaled_calibration_metrics(labels, prob_scaled, temperature, params.calibration_bins))
    metrics.update(
        n_examples=len(test),
        dtype=precision.dtype,  # fp32 | bf16 | fp16 of the forward passes
    )
    timing = {"examples_per_s": round(examples_per_s, 3)}  # to MLflow and timings/, not a DVC output
    write_text(paths.EVAL_TIMING, json.dumps(timing, indent=2) + "\n")

    paths.REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    predictions = predictions_table(
        labels, prob_pos, info[paths.N_WORDS], info[paths.N_TOKENS], info[paths.TRUNCATED], prob_scaled, rows
    )
    write_csv(predictions, paths.PREDICTIONS)
    write_csv(roc_table(labels, prob_pos), paths.ROC_CURVE)
    write_csv(pr_table(labels, prob_pos), paths.PR_CURVE)
    write_csv(reliability_table(labels, prob_pos, params.calibration_bins).round(6), paths.CALIBRATION)
    write_csv(reliability_table(labels, prob_scaled, params.calibration_bins).round(6), paths.CALIBRATION_SCALED)
    buckets = length_bucket_table(labels, prob_pos, info[paths.N_TOKENS], params.calibration_bins)
    write_csv(buckets.round(6), paths.LENGTH_BUCKETS)
    errors = error_analysis(predictions, texts, params.error_examples, params.error_text_chars)
    write_text(paths.ERRORS_JSON, json.dumps(errors, indent=2, ensure_ascii=False) + "\n")
    write_text(paths.ERRORS_MD, to_markdown(errors))
    write_text(paths.EVAL_REPORT, json.dumps(metrics, indent=2) + "\n")
    write_text(paths.EVAL_METRICS, json.dumps(headline(metrics), indent=2) + "\n")
    train_metrics = json.loads(paths.TRAIN_METRICS.read_text())
    write_text(paths.MODEL_CARD_REPORT, card.render(all_params, train_metrics, metrics))

    log_to_mlflow(metrics, timing, mlflow_params)
    print(json.dumps({k: v for k, v in metrics.items() if k != "by_length"}, indent=2))
    print(
        f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f} on {len(test):,} reviews "
        f"({examples_per_s:.1f} reviews/s); "
        f"ECE {metrics['ece']:.4f}, {metrics['ece_scaled']:.4f} after temperature scaling (T={temperature:.3f})"
    )
    print(to_markdown(errors).split("\n## ")[0])


def log_to_mlflow(metrics: dict, timing: dict, mlflow_params: MlflowParams) -> None:
    """Into the run that trained models/best: every test metric and the throughput, the
    reports, and the model as a registered pyfunc."""
    with tracking.resume_run(paths.MODEL_DIR, mlflow_params.experiment) as mlflow_run:
        if not mlflow_run:
            return
        tracking.log_metrics(tracking.flatten_metrics({**metrics, paths.TIMING_KEY: timing}), prefix="test_")
        for path in (
            paths.EVAL_METRICS,
            paths.EVAL_REPORT,
            paths.ERRORS_JSON,
            paths.ERRORS_MD,
            paths.MODEL_CARD_REPORT,
        ):
            mlflow.log_artifact(str(path), "evaluation")
        if mlflow_params.log_model:
            model_info = log_and_register(paths.MODEL_DIR, mlflow_params.registered_model)
            version = model_info.registered_model_version
            tracking.tag_model_version(mlflow_params.registered_model, version, metrics)
            registered = f", registered as models:/{mlflow_params.registered_model}/{version}" if version else ""
            print(f"MLflow model: {model_info.model_uri}{registered}")


if __name__ == "__main__":
    run(main)
