"""The evaluate step: a model folder on the test split -> the headline metrics, every test
metric, predictions, curve data for the plots and the error analysis (file names: paths.py,
in `reports_dir`); all of it logged to the MLflow run, with the model itself as an MLflow
pyfunc model, registered under mlflow.registered_model."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
from datasets import load_from_disk

from sentiment_pipeline import paths, tracking
from sentiment_pipeline.config import MlflowParams, Params
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.evaluation.calibration import probabilities
from sentiment_pipeline.evaluation.error_analysis import error_analysis, to_markdown
from sentiment_pipeline.evaluation.metrics import predictions_table
from sentiment_pipeline.evaluation.report import evaluation_metrics, headline, scaled_calibration_metrics
from sentiment_pipeline.inference.predictor import predict_folder
from sentiment_pipeline.models import card
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.precision import resolve_precision
from sentiment_pipeline.serving.mlflow_model import log_and_register
from sentiment_pipeline.stage import write_csv, write_text
from sentiment_pipeline.steps.evaluate_tables import write_curves

COLUMNS = [paths.LABEL, paths.N_WORDS, paths.N_TOKENS, paths.TRUNCATED]


def evaluate(
    params: Params,
    model_dir: Path,
    tokenized_dir: Path,
    clean_test: Path,
    train_metrics: Path,
    reports_dir: Path,
    metrics_file: Path,
    timing_file: Path,
) -> dict:
    """Predict the test split of `tokenized_dir` with `model_dir`; write the reports, the
    headline metrics (`metrics_file`) and the throughput (`timing_file`); return every metric."""
    test = load_from_disk(str(tokenized_dir))["test"]
    texts = pd.read_parquet(clean_test, columns=[paths.TEXT])[paths.TEXT]
    if len(texts) != len(test):
        raise PipelineInputError(
            f"{clean_test} has {len(texts)} rows, the tokenized test split {len(test)}: rerun the tokenize stage"
        )
    temperature = ModelArtifact.read(model_dir).temperature
    # in the precision the model was trained and its temperature fitted in (bf16 where the CPU has it)
    precision = resolve_precision(params.train.precision, resolve_device("auto"))
    margins, examples_per_s = predict_folder(
        Path(model_dir), test, params.evaluate.batch_size, precision.device, precision.dtype
    )
    prob_pos, prob_scaled = probabilities(margins), probabilities(margins, temperature)
    info = test.select_columns(COLUMNS).to_pandas()
    labels, bins = info[paths.LABEL].to_numpy(), params.evaluate.calibration_bins
    # the model as trained (prob_pos), and its calibration after temperature scaling (prob_scaled)
    metrics = evaluation_metrics(labels, prob_pos, info[paths.N_TOKENS], info[paths.TRUNCATED], bins)
    metrics.update(scaled_calibration_metrics(labels, prob_scaled, temperature, bins))
    metrics.update(n_examples=len(test), dtype=precision.dtype)  # dtype: fp32 | bf16 | fp16 of the forward passes
    timing = {"examples_per_s": round(examples_per_s, 3)}  # to MLflow and timings/, not a DVC output
    write_text(timing_file, json.dumps(timing, indent=2) + "\n")

    reports = Path(reports_dir)
    rows = test.select_columns([paths.ROW])[paths.ROW] if paths.ROW in test.column_names else None
    cols = [info[c] for c in (paths.N_WORDS, paths.N_TOKENS, paths.TRUNCATED)]
    predictions = predictions_table(labels, prob_pos, *cols, prob_scaled, rows)
    write_csv(predictions, reports / paths.PREDICTIONS.name)
    write_curves(reports, labels, prob_pos, prob_scaled, info[paths.N_TOKENS], bins)
    errors = error_analysis(predictions, texts, params.evaluate.error_examples, params.evaluate.error_text_chars)
    write_text(reports / paths.ERRORS_JSON.name, json.dumps(errors, indent=2, ensure_ascii=False) + "\n")
    write_text(reports / paths.ERRORS_MD.name, to_markdown(errors))
    write_text(reports / paths.EVAL_REPORT.name, json.dumps(metrics, indent=2) + "\n")
    write_text(metrics_file, json.dumps(headline(metrics), indent=2) + "\n")
    card_text = card.render(params, json.loads(Path(train_metrics).read_text()), metrics)
    write_text(reports / paths.MODEL_CARD_REPORT.name, card_text)

    log_to_mlflow(Path(model_dir), reports, Path(metrics_file), metrics, timing, params.mlflow)
    _print_summary(metrics, errors, len(test), examples_per_s, temperature)
    return metrics


def _print_summary(metrics: dict, errors: dict, n: int, examples_per_s: float, temperature: float) -> None:
    print(json.dumps({k: v for k, v in metrics.items() if k != "by_length"}, indent=2))
    print(
        f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f} on {n:,} reviews "
        f"({examples_per_s:.1f} reviews/s); "
        f"ECE {metrics['ece']:.4f}, {metrics['ece_scaled']:.4f} after temperature scaling (T={temperature:.3f})"
    )
    print(to_markdown(errors).split("\n## ")[0])


def log_to_mlflow(
    model_dir: Path, reports: Path, metrics_file: Path, metrics: dict, timing: dict, mlflow_params: MlflowParams
) -> None:
    """Into the run that trained `model_dir`: every test metric and the throughput, the
    reports, and the model as a registered pyfunc."""
    with tracking.resume_run(model_dir, mlflow_params.experiment) as mlflow_run:
        if not mlflow_run:
            return
        tracking.log_metrics(tracking.flatten_metrics({**metrics, paths.TIMING_KEY: timing}), prefix="test_")
        mlflow.log_artifact(str(metrics_file), "evaluation")
        for name in (paths.EVAL_REPORT, paths.ERRORS_JSON, paths.ERRORS_MD, paths.MODEL_CARD_REPORT):
            mlflow.log_artifact(str(reports / name.name), "evaluation")
        if mlflow_params.log_model:
            model_info = log_and_register(model_dir, mlflow_params.registered_model)
            version = model_info.registered_model_version
            tracking.tag_model_version(mlflow_params.registered_model, version, metrics)
            registered = f", registered as models:/{mlflow_params.registered_model}/{version}" if version else ""
            print(f"MLflow model: {model_info.model_uri}{registered}")
