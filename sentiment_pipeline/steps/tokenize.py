"""The tokenize step: cleaned splits -> what train reads (Arrow, save_to_disk), with review lengths.

What "tokenize" means is the model kind's business (models/kinds.py): the
transformer's tokenizer; a word vocabulary learnt from the train split
(bilstm); or word counts beside the kept text (tfidf_logreg: the vectorizer is
fitted with the model). The tokenizer used, if any, is saved in
`<tokenized_dir>/tokenizer`, for train to ship with the model.
"""

from __future__ import annotations

from pathlib import Path

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.encoding import read_parquet, save_tokenizer
from sentiment_pipeline.disk_space import check_free_space
from sentiment_pipeline.models import kinds
from sentiment_pipeline.paths import SPLITS, TOKENIZER_DIR, TRUNCATED


def tokenize(params: Params, clean_dir: Path, tokenized_dir: Path) -> dict[str, int]:
    """`tokenized_dir` (and its tokenizer) from clean_dir/*.parquet; the number of reviews per split."""
    check_free_space()
    clean = {s: read_parquet(Path(clean_dir) / f"{s}.parquet") for s in SPLITS}
    tokenized, tokenizer = kinds.get(params.model.type).tokenize(params, clean)
    tokenized.save_to_disk(str(tokenized_dir))
    if tokenizer is not None:
        save_tokenizer(tokenizer, Path(tokenized_dir) / TOKENIZER_DIR.name)
        print(f"{params.model.type} tokenizer: {len(tokenizer):,} tokens in the vocabulary")
    for split, ds in tokenized.items():
        share = sum(ds[TRUNCATED]) / max(len(ds), 1)
        cut = f", {share:.1%} truncated at max_length={params.tokenize.max_length}" if tokenizer is not None else ""
        print(f"{split}: {len(ds)} reviews{cut}")
    return {split: len(ds) for split, ds in tokenized.items()}
