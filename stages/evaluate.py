"""Stage evaluate: models/best on the test split -> metrics/eval.json, predictions, ROC data."""

import json

import mlflow
from datasets import load_from_disk

from sentiment_pipeline import layout, tracking
from sentiment_pipeline.config import load_params
from sentiment_pipeline.evaluation import classification_metrics, predictions_table, roc_table
from sentiment_pipeline.inference import predict_proba
from sentiment_pipeline.stage import run


def main() -> None:
    params = load_params()
    test = load_from_disk(str(layout.TOKENIZED_DIR))["test"]
    prob_pos, examples_per_s = predict_proba(layout.MODEL_DIR, test, params.evaluate.batch_size)
    info = test.select_columns(["label", "n_words", "n_tokens", "truncated"]).to_pandas()
    metrics = classification_metrics(info["label"].to_numpy(), prob_pos)
    metrics.update(n_examples=len(test), examples_per_s=round(examples_per_s, 3))

    layout.REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    predictions_table(info["label"], prob_pos, info["n_words"], info["n_tokens"], info["truncated"]).to_csv(
        layout.PREDICTIONS, index=False)
    roc_table(info["label"], prob_pos).to_csv(layout.ROC_CURVE, index=False)
    layout.EVAL_METRICS.write_text(json.dumps(metrics, indent=2) + "\n")
    with tracking.resume_run(layout.RUN_FILE) as run:
        if run:
            tracking.log_metrics(metrics, prefix="test_")
            mlflow.log_artifact(str(layout.EVAL_METRICS), "metrics")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    run(main)
