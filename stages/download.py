"""Stage download: the labelled train/test splits of data.source -> data/raw/*.parquet."""

from sentiment_pipeline import paths
from sentiment_pipeline.config import load_params
from sentiment_pipeline.data.loading import load_labelled, stratified_subset
from sentiment_pipeline.stage import run


def main() -> None:
    params = load_params().data
    splits = load_labelled(params.source, params.revision)
    sizes = {"train": params.train_size, "test": params.test_size}
    # draw every subset before writing anything, so a bad size fails with no partial output
    subsets = {s: stratified_subset(splits[s], sizes[s], params.seed, f"data.{s}_size") for s in sizes}
    paths.RAW_DIR.mkdir(parents=True, exist_ok=True)
    for split, ds in subsets.items():
        ds.to_parquet(paths.RAW_DIR / f"{split}.parquet")
        print(f"{split}: {len(ds)} reviews -> {paths.RAW_DIR / f'{split}.parquet'}")


if __name__ == "__main__":
    run(main)
