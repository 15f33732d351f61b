"""The clean step: raw splits -> cleaned train/validation/test parquet files and the report of what was dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.cleaning import clean_splits
from sentiment_pipeline.paths import SPLITS
from sentiment_pipeline.stage import write_text


def clean(params: Params, raw_dir: Path, clean_dir: Path, report_file: Path) -> dict:
    """clean_dir/{train,validation,test}.parquet and `report_file` (what was dropped and why); the report."""
    raw = {s: pd.read_parquet(Path(raw_dir) / f"{s}.parquet") for s in ("train", "test")}
    tables, report = clean_splits(raw["train"], raw["test"], params.data.val_fraction, params.data.seed)
    clean_dir = Path(clean_dir)
    clean_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        tables[split].to_parquet(clean_dir / f"{split}.parquet", index=False)
    write_text(report_file, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report
