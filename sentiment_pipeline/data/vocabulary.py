"""A word-level fast tokenizer for the BiLSTM, its vocabulary learnt from the
train split only (validation and test words it never saw become [UNK]).

Built with the `tokenizers` library (WordLevel model, BERT normaliser and
pre-tokeniser: lowercase, accents stripped, punctuation split off) and wrapped
as a `PreTrainedTokenizerFast`, so the pipeline's tokenization, truncation,
padding collator and `save_pretrained` work on it as on a transformer's.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, UNK = "[PAD]", "[UNK]"


def train_word_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int) -> PreTrainedTokenizerFast:
    """The `vocab_size` most frequent words (seen at least `min_frequency` times)
    of `texts`, plus [PAD] (id 0) and [UNK] (id 1)."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, clean_text=True, strip_accents=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[PAD, UNK], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        unk_token=UNK,
        model_input_names=["input_ids", "attention_mask"],
        model_max_length=1_000_000,
    )
