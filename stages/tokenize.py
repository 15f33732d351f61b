"""Stage tokenize: data/clean -> data/tokenized (Arrow, save_to_disk), with review lengths.

What "tokenize" means depends on model.type: the transformer's tokenizer; a
word vocabulary learnt from the train split (bilstm); or word counts beside
the kept text (tfidf_logreg: the vectorizer is fitted with the model). The
tokenizer used is saved in data/tokenized/tokenizer, for train to ship with
the model.
"""

from datasets import DatasetDict

from sentiment_pipeline import paths
from sentiment_pipeline.config import load_params
from sentiment_pipeline.data.encoding import (
    check_max_length,
    count_words,
    fit_or_load_tokenizer,
    read_parquet,
    save_tokenizer,
    tokenize_dataset,
)
from sentiment_pipeline.disk_space import check_free_space
from sentiment_pipeline.stage import run


def main() -> None:
    params = load_params()
    check_free_space()
    clean = {s: read_parquet(paths.CLEAN_DIR / f"{s}.parquet") for s in paths.SPLITS}
    cfg = params.tokenize
    if params.model.type == "tfidf_logreg":
        tokenizer = None
        tokenized = DatasetDict({s: count_words(clean[s]) for s in paths.SPLITS})
    else:
        tokenizer = fit_or_load_tokenizer(params.model, clean["train"][paths.TEXT])
        if params.model.type == "transformer":
            check_max_length(params.model.name, tokenizer, cfg.max_length)  # before the tokenizing
        tokenized = DatasetDict(
            {
                s: tokenize_dataset(clean[s], tokenizer, cfg.max_length, cfg.truncation, cfg.head_fraction)
                for s in paths.SPLITS
            }
        )
    tokenized.save_to_disk(str(paths.TOKENIZED_DIR))
    if tokenizer is not None:
        save_tokenizer(tokenizer, paths.TOKENIZER_DIR)
        print(f"{params.model.type} tokenizer: {len(tokenizer):,} tokens in the vocabulary")
    for split, ds in tokenized.items():
        if tokenizer is None:  # TF-IDF counts words; max_length does not apply to it
            print(f"{split}: {len(ds)} reviews")
            continue
        share = sum(ds[paths.TRUNCATED]) / max(len(ds), 1)
        print(f"{split}: {len(ds)} reviews, {share:.1%} truncated at max_length={cfg.max_length}")


if __name__ == "__main__":
    run(main)
