"""The evaluate step's curve and calibration tables, each a CSV in the reports folder (names: paths.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sentiment_pipeline import paths
from sentiment_pipeline.evaluation.calibration import reliability_table
from sentiment_pipeline.evaluation.metrics import roc_table
from sentiment_pipeline.evaluation.report import length_bucket_table, pr_table
from sentiment_pipeline.stage import write_csv


def write_curves(
    reports: Path, labels: np.ndarray, prob_pos: np.ndarray, prob_scaled: np.ndarray, n_tokens: pd.Series, bins: int
) -> None:
    """ROC, PR, the reliability bins (before and after temperature scaling) and accuracy by length."""
    write_csv(roc_table(labels, prob_pos), reports / paths.ROC_CURVE.name)
    write_csv(pr_table(labels, prob_pos), reports / paths.PR_CURVE.name)
    write_csv(reliability_table(labels, prob_pos, bins).round(6), reports / paths.CALIBRATION.name)
    write_csv(reliability_table(labels, prob_scaled, bins).round(6), reports / paths.CALIBRATION_SCALED.name)
    write_csv(length_bucket_table(labels, prob_pos, n_tokens, bins).round(6), reports / paths.LENGTH_BUCKETS.name)
