"""Log-odds for a tokenized split, whatever the model's kind (P(positive) =
sigmoid of them, after temperature scaling: evaluation.calibration.probabilities).

The evaluate stage and training's temperature fit read the split the tokenize
stage wrote; the analyzer reads raw texts. Both go through the model's kind
(models/kinds.py), which holds the prediction core: for networks, batches
sorted by length under `torch.inference_mode` (models/network.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from datasets import Dataset

from sentiment_pipeline.models.kinds import LoadedModel, load


def predict_dataset(
    loaded: LoadedModel, ds: Dataset, batch_size: int, device: str = "cpu", dtype: str = "fp32"
) -> tuple[np.ndarray, float]:
    """The log-odds margin of each row of a tokenized split, in row order, and the throughput in rows/s."""
    start = time.perf_counter()
    margins = loaded.kind.dataset_margins(loaded, ds, batch_size, device, dtype)
    return margins, len(ds) / max(time.perf_counter() - start, 1e-9)


def predict_folder(
    model_dir: Path, ds: Dataset, batch_size: int = 64, device: str = "cpu", dtype: str = "fp32"
) -> tuple[np.ndarray, float]:
    """`predict_dataset` with the model folder loaded first (margins, rows/s)."""
    return predict_dataset(load(model_dir), ds, batch_size, device, dtype)
