"""Dynamic padding that carries each review's length along to the loss."""

from __future__ import annotations

import torch
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

LENGTH_KEY = "n_words"  # the review length the loss weights by


class PaddingCollatorWithLengths:
    """DataCollatorWithPadding for the model inputs and the label, plus the
    ``n_words`` column as a tensor. Other columns (n_tokens, length, ...) are
    dropped here, because the model's forward would reject them; the HF
    collator alone cannot keep one extra column and drop the rest."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.pad = DataCollatorWithPadding(tokenizer)
        self.keys = set(tokenizer.model_input_names) | {"label", "labels"}

    def __call__(self, features: list[dict]) -> dict:
        batch = self.pad([{k: v for k, v in f.items() if k in self.keys} for f in features])
        if LENGTH_KEY in features[0]:
            batch[LENGTH_KEY] = torch.tensor([f[LENGTH_KEY] for f in features])
        return batch
