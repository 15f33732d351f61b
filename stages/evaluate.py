"""Stage evaluate: models/best on the test split -> metrics/eval.json (all
metrics, calibration, by review length), predictions, curve data for the
plots, and the error analysis; all of it logged to the MLflow run, with the
model itself as an MLflow pyfunc model, registered under mlflow.registered_model."""

import json

import mlflow
import pandas as pd
from datasets import load_from_disk

from sentiment_pipeline import layout, tracking
from sentiment_pipeline.calibration import reliability_table
from sentiment_pipeline.config import load_params
from sentiment_pipeline.error_analysis import error_analysis, to_markdown
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.evaluation import predictions_table, roc_table
from sentiment_pipeline.inference import predict_proba
from sentiment_pipeline.mlflow_model import log_and_register
from sentiment_pipeline.report import evaluation_metrics, length_bucket_table, pr_table
from sentiment_pipeline.stage import run


def main() -> None:
    all_params = load_params()
    params, mlflow_params = all_params.evaluate, all_params.mlflow
    test = load_from_disk(str(layout.TOKENIZED_DIR))["test"]
    texts = pd.read_parquet(layout.CLEAN_DIR / "test.parquet", columns=["text"])["text"]
    if len(texts) != len(test):
        raise PipelineInputError(f"{layout.CLEAN_DIR}/test.parquet has {len(texts)} rows, the tokenized test split "
                                f"{len(test)}: rerun the tokenize stage")
    prob_pos, examples_per_s = predict_proba(layout.MODEL_DIR, test, params.batch_size)
    info = test.select_columns(["label", "n_words", "n_tokens", "truncated"]).to_pandas()
    labels = info["label"].to_numpy()
    metrics = evaluation_metrics(labels, prob_pos, info["n_tokens"], info["truncated"], params.calibration_bins)
    metrics.update(n_examples=len(test), **{layout.TIMING_KEY: {"examples_per_s": round(examples_per_s, 3)}})

    layout.REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    predictions = predictions_table(labels, prob_pos, info["n_words"], info["n_tokens"], info["truncated"])
    predictions.to_csv(layout.PREDICTIONS, index=False)
    roc_table(labels, prob_pos).to_csv(layout.ROC_CURVE, index=False)
    pr_table(labels, prob_pos).to_csv(layout.PR_CURVE, index=False)
    reliability_table(labels, prob_pos, params.calibration_bins).round(6).to_csv(layout.CALIBRATION, index=False)
    length_bucket_table(labels, prob_pos, info["n_tokens"], params.calibration_bins).round(6).to_csv(
        layout.LENGTH_BUCKETS, index=False)
    errors = error_analysis(predictions, texts, params.error_examples, params.error_text_chars)
    layout.ERRORS_JSON.write_text(json.dumps(errors, indent=2, ensure_ascii=False) + "\n")
    layout.ERRORS_MD.write_text(to_markdown(errors))
    layout.EVAL_METRICS.write_text(json.dumps(metrics, indent=2) + "\n")

    with tracking.resume_run(layout.MODEL_DIR, mlflow_params.experiment) as mlflow_run:
        if mlflow_run:
            tracking.log_metrics(tracking.flatten_metrics(metrics), prefix="test_")
            for path in (layout.EVAL_METRICS, layout.ERRORS_JSON, layout.ERRORS_MD):
                mlflow.log_artifact(str(path), "evaluation")
            if mlflow_params.log_model:
                info = log_and_register(layout.MODEL_DIR, mlflow_params.registered_model)
                tracking.tag_model_version(mlflow_params.registered_model, info.registered_model_version, metrics)
                print(f"MLflow model: {info.model_uri}"
                      + (f", registered as models:/{mlflow_params.registered_model}/{info.registered_model_version}"
                         if info.registered_model_version else ""))
    print(json.dumps({k: v for k, v in metrics.items() if k != "by_length"}, indent=2))
    print(f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f} on {len(test):,} reviews")
    print(to_markdown(errors).split("\n## ")[0])


if __name__ == "__main__":
    run(main)
