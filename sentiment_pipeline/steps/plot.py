"""The plot step: training history and test results -> PNG figures, logged to the MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import pandas as pd

from sentiment_pipeline import paths, tracking
from sentiment_pipeline.config import Params
from sentiment_pipeline.evaluation import plots


def figures(params: Params, reports: Path) -> dict:
    """Each figure by file name, from the train and evaluate stages' reports (names: paths.py)."""
    read = lambda path: pd.read_csv(reports / path.name)
    epochs, steps, predictions = read(paths.TRAIN_HISTORY), read(paths.TRAIN_STEPS), read(paths.PREDICTIONS)
    metrics = json.loads((reports / paths.EVAL_REPORT.name).read_text())
    return {
        "train_loss.png": plots.train_loss(steps, epochs),
        "validation_metrics.png": plots.validation_metrics(epochs),
        "validation_f1_smoothed.png": plots.smoothed_val_f1(epochs, params.plot.smoothing, steps),
        "roc_curve.png": plots.roc_curve(read(paths.ROC_CURVE), metrics.get("roc_auc")),
        "pr_curve.png": plots.pr_curve(
            read(paths.PR_CURVE), metrics.get("pr_auc"), float(predictions[paths.LABEL].mean())
        ),
        "confusion_matrix.png": plots.confusion_matrix(predictions),
        "reliability_diagram.png": plots.reliability_diagram(
            read(paths.CALIBRATION), metrics.get("ece"), metrics.get("mce")
        ),
        "reliability_diagram_scaled.png": plots.reliability_diagram(
            read(paths.CALIBRATION_SCALED),
            metrics.get("ece_scaled"),
            metrics.get("mce_scaled"),
            title=f"Reliability diagram (test), temperature {metrics.get('temperature', 1.0):.2f}",
        ),
        "confidence_histogram.png": plots.confidence_histogram(predictions, params.evaluate.calibration_bins),
        "accuracy_by_length.png": plots.accuracy_by_length(read(paths.LENGTH_BUCKETS)),
    }


def plot(params: Params, model_dir: Path, reports_dir: Path, plots_dir: Path) -> list[Path]:
    """plots_dir/*.png from `reports_dir`, logged to the run that trained `model_dir`; the files written."""
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures(params, Path(reports_dir)).items():
        fig.savefig(plots_dir / name, dpi=plots.DPI)
        plt.close(fig)
        written.append(plots_dir / name)
    with tracking.resume_run(Path(model_dir), params.mlflow.experiment) as mlflow_run:
        if mlflow_run:
            mlflow.log_artifacts(str(plots_dir), "plots")
    metrics = json.loads((Path(reports_dir) / paths.EVAL_REPORT.name).read_text())
    print(f"{len(written)} figures -> {plots_dir}/")
    print(
        f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}, ECE {metrics['ece']:.4f} "
        f"({metrics['ece_scaled']:.4f} after temperature scaling) on {metrics['n_examples']:,} reviews "
        "(metrics/eval.json; dvc metrics show)"
    )
    return written
