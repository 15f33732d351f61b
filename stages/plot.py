"""Stage plot: training history and test results -> plots/*.png, logged to the MLflow run."""

import json

import matplotlib.pyplot as plt
import mlflow
import pandas as pd

from sentiment_pipeline import paths, tracking
from sentiment_pipeline.config import load_params
from sentiment_pipeline.evaluation import plots
from sentiment_pipeline.stage import run


def main() -> None:
    params = load_params()
    epochs = pd.read_csv(paths.TRAIN_HISTORY)
    steps = pd.read_csv(paths.TRAIN_STEPS)
    predictions = pd.read_csv(paths.PREDICTIONS)
    metrics = json.loads(paths.EVAL_REPORT.read_text())

    figures = {
        "train_loss.png": plots.train_loss(steps, epochs),
        "validation_metrics.png": plots.validation_metrics(epochs),
        "validation_f1_smoothed.png": plots.smoothed_val_f1(epochs, params.plot.smoothing, steps),
        "roc_curve.png": plots.roc_curve(pd.read_csv(paths.ROC_CURVE), metrics.get("roc_auc")),
        "pr_curve.png": plots.pr_curve(
            pd.read_csv(paths.PR_CURVE), metrics.get("pr_auc"), float(predictions[paths.LABEL].mean())
        ),
        "confusion_matrix.png": plots.confusion_matrix(predictions),
        "reliability_diagram.png": plots.reliability_diagram(
            pd.read_csv(paths.CALIBRATION), metrics.get("ece"), metrics.get("mce")
        ),
        "reliability_diagram_scaled.png": plots.reliability_diagram(
            pd.read_csv(paths.CALIBRATION_SCALED),
            metrics.get("ece_scaled"),
            metrics.get("mce_scaled"),
            title=f"Reliability diagram (test), temperature {metrics.get('temperature', 1.0):.2f}",
        ),
        "confidence_histogram.png": plots.confidence_histogram(predictions, params.evaluate.calibration_bins),
        "accuracy_by_length.png": plots.accuracy_by_length(pd.read_csv(paths.LENGTH_BUCKETS)),
    }
    paths.PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        fig.savefig(paths.PLOTS_DIR / name, dpi=plots.DPI)
        plt.close(fig)
    with tracking.resume_run(paths.MODEL_DIR, params.mlflow.experiment) as mlflow_run:
        if mlflow_run:
            mlflow.log_artifacts(str(paths.PLOTS_DIR), "plots")
    print(f"{len(figures)} figures -> {paths.PLOTS_DIR}/")
    print(
        f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}, ECE {metrics['ece']:.4f} "
        f"({metrics['ece_scaled']:.4f} after temperature scaling) on {metrics['n_examples']:,} reviews "
        "(metrics/eval.json; dvc metrics show)"
    )


if __name__ == "__main__":
    run(main)
