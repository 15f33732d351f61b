"""Stage clean: data/raw -> data/clean/{train,validation,test}.parquet + reports/clean.json."""

import json

import pandas as pd

from sentiment_pipeline import paths
from sentiment_pipeline.config import load_params
from sentiment_pipeline.data.cleaning import clean_splits
from sentiment_pipeline.stage import run, write_text


def main() -> None:
    params = load_params().data
    raw = {s: pd.read_parquet(paths.RAW_DIR / f"{s}.parquet") for s in ("train", "test")}
    tables, report = clean_splits(raw["train"], raw["test"], params.val_fraction, params.seed)
    paths.CLEAN_DIR.mkdir(parents=True, exist_ok=True)
    for split, df in tables.items():
        df.to_parquet(paths.CLEAN_DIR / f"{split}.parquet", index=False)
    paths.CLEAN_REPORT.parent.mkdir(parents=True, exist_ok=True)
    write_text(paths.CLEAN_REPORT, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run(main)
