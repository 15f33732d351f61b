"""One function per figure: tables in, matplotlib Figure out."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from .layout import LABEL_NAMES  # noqa: E402


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def ema(values: pd.Series, smoothing: float) -> pd.Series:
    """Exponential moving average as TensorBoard draws it (smoothing 0 = raw)."""
    return values.ewm(alpha=1 - smoothing, adjust=False).mean()


def train_loss(steps: pd.DataFrame, epochs: pd.DataFrame) -> Figure:
    fig, ax = _figure("Training loss", "epoch", "loss")
    if not steps.empty:
        ax.plot(steps["epoch"], steps["loss"], color="tab:blue", alpha=0.6, label="train, weighted (per logging step)")
    ax.plot(epochs["epoch"], epochs["train_loss"], "o-", color="tab:blue", label="train, weighted (epoch mean)")
    ax.plot(epochs["epoch"], epochs["val_loss"], "s--", color="tab:orange", label="validation, weighted")
    if "val_log_loss" in epochs:
        ax.plot(epochs["epoch"], epochs["val_log_loss"], "^:", color="tab:red", label="validation, plain log loss")
    ax.legend()
    return fig


def validation_metrics(epochs: pd.DataFrame) -> Figure:
    fig, ax = _figure("Validation metrics", "epoch", "score")
    for column, label in (("val_accuracy", "accuracy"), ("val_f1", "F1"),
                          ("val_precision", "precision"), ("val_recall", "recall")):
        if column in epochs:
            ax.plot(epochs["epoch"], epochs[column], "o-", label=label)
    ax.set_xticks(epochs["epoch"])
    ax.legend()
    return fig


def smoothed_val_f1(epochs: pd.DataFrame, smoothing: float) -> Figure:
    fig, ax = _figure(f"Validation F1 (EMA smoothing {smoothing})", "epoch", "F1")
    ax.plot(epochs["epoch"], epochs["val_f1"], "o", alpha=0.4, label="raw")
    ax.plot(epochs["epoch"], ema(epochs["val_f1"], smoothing), "-", linewidth=2, label="smoothed")
    ax.set_xticks(epochs["epoch"])
    ax.legend()
    return fig


def epoch_time(epochs: pd.DataFrame) -> Figure:
    fig, ax = _figure("Training time per epoch", "epoch", "seconds")
    bars = ax.bar(epochs["epoch"], epochs["epoch_time_s"], color="tab:green")
    if "epoch_examples_per_s" in epochs:
        ax.bar_label(bars, labels=[f"{v:.1f} ex/s" for v in epochs["epoch_examples_per_s"]])
    ax.set_xticks(epochs["epoch"])
    return fig


def roc_curve(roc: pd.DataFrame, auc: float | None) -> Figure:
    fig, ax = _figure("ROC curve (test)", "false positive rate", "true positive rate")
    label = f"model (AUC = {auc:.3f})" if auc is not None else "model"
    ax.plot(roc["fpr"], roc["tpr"], label=label)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    return fig


def confusion_matrix(predictions: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
    ConfusionMatrixDisplay.from_predictions(
        predictions["label"], predictions["predicted"], labels=[0, 1],
        display_labels=list(LABEL_NAMES), ax=ax, colorbar=False, cmap="Blues",
    )
    ax.set(title="Confusion matrix (test)", xlabel="predicted", ylabel="true")
    return fig
