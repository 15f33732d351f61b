"""Stage tokenize: data/clean -> data/tokenized (Arrow, save_to_disk), with review lengths."""

from datasets import DatasetDict, load_dataset

from sentiment_pipeline import layout
from sentiment_pipeline.config import load_params
from sentiment_pipeline.tokenization import load_tokenizer, tokenize_dataset
from sentiment_pipeline.stage import run


def main() -> None:
    params = load_params()
    tokenizer = load_tokenizer(params.model.name)
    files = {s: str(layout.CLEAN_DIR / f"{s}.parquet") for s in layout.SPLITS}
    clean = load_dataset("parquet", data_files=files)
    cfg = params.tokenize
    tokenized = DatasetDict(
        {s: tokenize_dataset(clean[s], tokenizer, cfg.max_length, cfg.truncation, cfg.head_fraction)
         for s in layout.SPLITS}
    )
    tokenized.save_to_disk(str(layout.TOKENIZED_DIR))
    for split, ds in tokenized.items():
        share = sum(ds["truncated"]) / max(len(ds), 1)
        print(f"{split}: {len(ds)} reviews, {share:.1%} truncated at max_length={cfg.max_length}")


if __name__ == "__main__":
    run(main)
