"""The download step: the labelled train/test splits of data.source -> parquet files."""

from __future__ import annotations

from pathlib import Path

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.loading import load_labelled, stratified_subset


def download(params: Params, raw_dir: Path) -> dict[str, int]:
    """raw_dir/{train,test}.parquet (data.train_size / test_size stratified subsets); their sizes."""
    data = params.data
    splits = load_labelled(data.source, data.revision)
    sizes = {"train": data.train_size, "test": data.test_size}
    # draw every subset before writing anything, so a bad size fails with no partial output
    subsets = {s: stratified_subset(splits[s], sizes[s], data.seed, f"data.{s}_size") for s in sizes}
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    for split, ds in subsets.items():
        ds.to_parquet(raw_dir / f"{split}.parquet")
        print(f"{split}: {len(ds)} reviews -> {raw_dir / f'{split}.parquet'}")
    return {split: len(ds) for split, ds in subsets.items()}
