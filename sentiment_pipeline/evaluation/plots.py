"""One function per figure: tables in, matplotlib Figure out."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from sentiment_pipeline.paths import LABEL, LABEL_NAMES


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def ema(values: pd.Series, smoothing: float) -> pd.Series:
    """Exponential moving average as TensorBoard draws it (smoothing 0 = raw)."""
    return values.ewm(alpha=1 - smoothing, adjust=False).mean()


SCORE_LIMITS = (0.5, 1.0)  # accuracy/F1 axes: the same on every run, so two runs' PNGs compare by eye
DPI = 90  # 630 px wide: two figures side by side fit `dvc plots diff`'s page


def loss_limits(steps: pd.DataFrame) -> tuple[float, float]:
    """Loss axes from 0 to 1, or to the highest step loss above that: fixed for runs alike."""
    return 0.0, max(1.0, float(steps["loss"].max()) if not steps.empty else 0.0)


def train_loss(steps: pd.DataFrame, epochs: pd.DataFrame) -> Figure:
    fig, ax = _figure("Training loss", "epoch", "loss")
    if not steps.empty:
        ax.plot(steps["epoch"], steps["loss"], color="tab:blue", alpha=0.6, label="train, weighted (per logging step)")
    ax.plot(epochs["epoch"], epochs["train_loss"], "o-", color="tab:blue", label="train, weighted (epoch mean)")
    ax.plot(epochs["epoch"], epochs["val_loss"], "s--", color="tab:orange", label="validation, weighted")
    if "val_log_loss" in epochs:
        ax.plot(epochs["epoch"], epochs["val_log_loss"], "^:", color="tab:red", label="validation, plain log loss")
    ax.set_ylim(*loss_limits(steps))
    ax.legend()
    return fig


def validation_metrics(epochs: pd.DataFrame) -> Figure:
    """Per epoch; with one epoch (one dot per line), the scores as labelled bars."""
    scores = [
        (c, name)
        for c, name in (
            ("val_accuracy", "accuracy"),
            ("val_f1", "F1"),
            ("val_precision", "precision"),
            ("val_recall", "recall"),
        )
        if c in epochs
    ]
    if len(epochs) == 1:
        fig, ax = _figure(f"Validation scores (epoch {int(epochs['epoch'].iloc[0])})", "", "score")
        bars = ax.bar([name for _, name in scores], [float(epochs[c].iloc[0]) for c, _ in scores], color="tab:blue")
        ax.bar_label(bars, fmt="%.3f", padding=2)
    else:
        fig, ax = _figure("Validation metrics", "epoch", "score")
        for column, name in scores:
            ax.plot(epochs["epoch"], epochs[column], "o-", label=name)
        ax.set_xticks(epochs["epoch"])
        ax.legend()
    ax.set_ylim(*SCORE_LIMITS)
    return fig


def smoothed_val_f1(epochs: pd.DataFrame, smoothing: float, steps: pd.DataFrame | None = None) -> Figure:
    """Validation F1 per epoch, smoothed; with one epoch, the per-step training loss smoothed instead."""
    if len(epochs) == 1 and steps is not None and not steps.empty:
        fig, ax = _figure(f"Training loss per step (EMA smoothing {smoothing})", "step", "loss")
        ax.plot(steps["step"], steps["loss"], alpha=0.4, label="raw")
        ax.plot(steps["step"], ema(steps["loss"], smoothing), "-", linewidth=2, label="smoothed")
        ax.set_ylim(*loss_limits(steps))
        ax.legend()
        return fig
    fig, ax = _figure(f"Validation F1 (EMA smoothing {smoothing})", "epoch", "F1")
    ax.plot(epochs["epoch"], epochs["val_f1"], "o", alpha=0.4, label="raw")
    ax.plot(epochs["epoch"], ema(epochs["val_f1"], smoothing), "-", linewidth=2, label="smoothed")
    ax.set_xticks(epochs["epoch"])
    ax.set_ylim(*SCORE_LIMITS)
    ax.legend()
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
        predictions[LABEL],
        predictions["predicted"],
        labels=[0, 1],
        display_labels=list(LABEL_NAMES),
        ax=ax,
        colorbar=False,
        cmap="Blues",
    )
    ax.set(title="Confusion matrix (test)", xlabel="predicted", ylabel="true")
    return fig


def pr_curve(pr: pd.DataFrame, pr_auc: float | None, positive_share: float | None = None) -> Figure:
    fig, ax = _figure("Precision-recall curve (test, positive class)", "recall", "precision")
    label = f"model (average precision = {pr_auc:.3f})" if pr_auc is not None else "model"
    ax.plot(pr["recall"], pr["precision"], label=label)
    if positive_share is not None:
        ax.axhline(positive_share, linestyle="--", color="grey", label=f"chance ({positive_share:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left")
    return fig


def reliability_diagram(
    bins: pd.DataFrame, ece: float | None, mce: float | None, title: str = "Reliability diagram (test)"
) -> Figure:
    """Accuracy against mean confidence per confidence bin, bar width = bin,
    with the bins' review counts beneath (top-label calibration)."""
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=[3, 1], layout="constrained")
    filled = bins[bins["count"] > 0]
    width = bins["upper"] - bins["lower"]
    centre = (filled["lower"] + filled["upper"]) / 2
    ax.bar(
        filled["lower"],
        filled["accuracy"],
        width=width[filled.index],
        align="edge",
        color="tab:blue",
        edgecolor="white",
        alpha=0.8,
        label="accuracy in bin",
    )
    ax.vlines(
        centre,
        filled["accuracy"],
        filled["confidence"],
        color="tab:red",
        linewidth=2,
        label="gap (|accuracy - confidence|)",
    )
    ax.plot(centre, filled["confidence"], "o", color="tab:red", markersize=5, label="mean confidence in bin")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    if ece is not None and mce is not None:
        title += f": ECE {ece:.3f}, MCE {mce:.3f}"
    ax.set(title=title, ylabel="accuracy", xlim=(0.45, 1), ylim=(0, 1.01))  # top-label confidence is >= 0.5
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    counts.bar(bins["lower"], bins["count"], width=width, align="edge", color="tab:grey", edgecolor="white")
    counts.set(xlabel="confidence (probability of the predicted class)", ylabel="reviews")
    counts.grid(alpha=0.3)
    return fig


def confidence_histogram(predictions: pd.DataFrame, n_bins: int = 15) -> Figure:
    fig, ax = _figure("Confidence of test predictions", "confidence (probability of the predicted class)", "reviews")
    correct = predictions[LABEL] == predictions["predicted"]
    edges = [0.5 + 0.5 * i / n_bins for i in range(n_bins + 1)]
    ax.hist(
        [predictions.loc[correct, "confidence"], predictions.loc[~correct, "confidence"]],
        bins=edges,
        color=["tab:green", "tab:red"],
        label=[f"correct ({correct.sum()})", f"wrong ({(~correct).sum()})"],
        stacked=False,
    )
    ax.set_xlim(0.5, 1.0)
    ax.legend(loc="upper left")
    return fig


def accuracy_by_length(buckets: pd.DataFrame) -> Figure:
    fig, ax = _figure(
        "Test accuracy by review length (token quartiles)", "review length in tokens (before truncation)", "accuracy"
    )
    labels = [f"{r.bucket}\n{r.tokens_from}-{r.tokens_to}\n(n={r.n})" for r in buckets.itertuples()]
    bars = ax.bar(labels, buckets["accuracy"], color="tab:blue")
    ax.bar_label(bars, labels=[f"{a:.3f}\nECE {e:.3f}" for a, e in zip(buckets["accuracy"], buckets["ece"])], padding=2)
    ax.set_ylim(SCORE_LIMITS[0], 1.05)  # fixed, like every score axis
    return fig
