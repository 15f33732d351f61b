"""Fast-tokenizer encoding with head, tail or head+tail truncation (the network kinds).

Each review is tokenized once in full, so its true length (tokens before
truncation, and words) is kept for the length-weighted loss; then the token
budget is cut. transformers tokenizers only truncate at one end, and v5 removed
`build_inputs_with_special_tokens`, so the head+tail cut (Sun et al. 2019,
"How to Fine-Tune BERT for Text Classification?") and the re-attachment of the
model's special tokens are written here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Dataset
from datasets.fingerprint import Hasher
from datasets.table import InMemoryTable
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase

from sentiment_pipeline.config import ParamsError
from sentiment_pipeline.data.sources import SourceError, loading, resolve_model
from sentiment_pipeline.paths import LENGTH, N_TOKENS, N_WORDS, TEXT, TRUNCATED

_PROBE = "sentiment"


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The fast tokenizer of `model.name` (pip:<package>, Hub id or local folder)."""
    path = resolve_model(name, "model.name")
    with loading(name, "model.name"):
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if not tokenizer.is_fast:
        raise SourceError(f"model.name {name!r} has no fast (Rust) tokenizer; the pipeline needs one")
    return tokenizer


def load_saved_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The tokenizer the tokenize stage saved beside the data it encoded."""
    if not (Path(path) / "tokenizer_config.json").is_file():
        raise SourceError(f"{path} holds no saved tokenizer: rerun the tokenize stage (dvc repro tokenize)")
    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)


# keys transformers writes into tokenizer_config.json about how the tokenizer was
# *loaded* (from a local folder, with HF_HUB_OFFLINE set, ...), not what it is:
# they would make the saved folder, and so DVC's hash of it, depend on the machine
_LOAD_TIME_KEYS = ("is_local", "local_files_only", "name_or_path", "_commit_hash", "cache_dir")


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """`save_pretrained`, then drop the load-time keys (see _LOAD_TIME_KEYS)."""
    tokenizer.save_pretrained(str(folder))
    strip_load_time_keys(folder)


def strip_load_time_keys(folder: Path) -> None:
    """Make a saved tokenizer_config.json depend only on the tokenizer itself."""
    path = Path(folder) / "tokenizer_config.json"
    if path.is_file():
        config = json.loads(path.read_text())
        kept = {k: v for k, v in config.items() if k not in _LOAD_TIME_KEYS}
        if kept != config:
            path.write_text(json.dumps(kept, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_parquet(path: Path) -> Dataset:
    """A parquet file as an in-memory Dataset, with a fingerprint taken from the
    file's content. `load_dataset("parquet")` would write a cache into
    ~/.cache/huggingface and give the data a fingerprint that differs run to run,
    so `save_to_disk` of anything derived from it would differ too."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return Dataset(InMemoryTable(pq.read_table(path)), fingerprint=digest)


def tokenizer_digest(tokenizer: PreTrainedTokenizerBase) -> str:
    """A content hash of a fast tokenizer (vocabulary, normaliser, special tokens)."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SpecialTokens:
    """The ids a tokenizer puts before and after a single sequence ([CLS] ... [SEP])."""

    prefix: list[int]
    suffix: list[int]

    @classmethod
    def of(cls, tokenizer: PreTrainedTokenizerBase) -> SpecialTokens:
        bare = tokenizer(_PROBE, add_special_tokens=False)["input_ids"]
        full = tokenizer(_PROBE, add_special_tokens=True)["input_ids"]
        for start in range(len(full) - len(bare) + 1):
            if full[start : start + len(bare)] == bare:
                return cls(prefix=full[:start], suffix=full[start + len(bare) :])
        raise ValueError("cannot locate the text between the tokenizer's special tokens")

    def __len__(self) -> int:
        return len(self.prefix) + len(self.suffix)


def truncate_ids(ids: list[int], budget: int, strategy: str, head_fraction: float = 0.25) -> list[int]:
    """Keep at most `budget` ids: the first (head), the last (tail) or both ends (head_tail)."""
    if len(ids) <= budget:
        return ids
    if strategy == "head":
        return ids[:budget]
    if strategy == "tail":
        return ids[len(ids) - budget :]
    if strategy == "head_tail":
        n_head = int(round(budget * head_fraction))
        n_tail = budget - n_head
        return ids[:n_head] + (ids[len(ids) - n_tail :] if n_tail else [])
    raise ValueError(f"unknown truncation strategy {strategy!r} (head, tail, head_tail)")


class Encoder:
    """Texts to the token ids a model reads: one batched call of the fast
    tokenizer on the full text, the cut to the token budget (head, tail or
    head+tail), the model's special tokens around it. The tokenize stage and the
    analyzer both encode through this class, so a served model reads exactly
    what it was trained on."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, max_length: int, truncation: str, head_fraction: float = 0.25
    ) -> None:
        self.tokenizer = tokenizer
        self.specials = SpecialTokens.of(tokenizer)
        self.budget = max_length - len(self.specials)
        if self.budget < 1:
            raise ParamsError(
                f"tokenize.max_length={max_length} leaves no room beside the model's "
                f"{len(self.specials)} special tokens: raise it"
            )
        self.truncation, self.head_fraction = truncation, head_fraction

    def content_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's ids before truncation, without special tokens."""
        # verbose=False: full-length encoding is intended, the cut happens in `cut`
        return self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]

    def cut(self, content: list[list[int]]) -> list[list[int]]:
        """The ids the model reads: each cut to the budget, special tokens around it."""
        return [
            self.specials.prefix
            + truncate_ids(ids, self.budget, self.truncation, self.head_fraction)
            + self.specials.suffix
            for ids in content
        ]

    def __call__(self, texts: list[str]) -> list[list[int]]:
        return self.cut(self.content_ids(texts))


def tokenize_dataset(
    ds: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    truncation: str,
    head_fraction: float = 0.25,
) -> Dataset:
    """Add input_ids, attention_mask (and token_type_ids where the model uses
    them), ``n_words``, ``n_tokens`` (before truncation), ``length`` (after) and
    ``truncated``; drops ``text``."""
    encoder = Encoder(tokenizer, max_length, truncation, head_fraction)
    budget = encoder.budget
    use_type_ids = "token_type_ids" in tokenizer.model_input_names

    def encode(batch: dict) -> dict:
        content = encoder.content_ids(batch[TEXT])
        input_ids = encoder.cut(content)
        out = {
            "input_ids": input_ids,
            "attention_mask": [[1] * len(ids) for ids in input_ids],
            N_WORDS: [len(text.split()) for text in batch[TEXT]],
            N_TOKENS: [len(ids) for ids in content],
            LENGTH: [len(ids) for ids in input_ids],
            TRUNCATED: [len(ids) > budget for ids in content],
        }
        if use_type_ids:
            out["token_type_ids"] = [[0] * len(ids) for ids in input_ids]
        return out

    # the fingerprint (saved in state.json) from the inputs, not from hashing this closure
    fingerprint = Hasher.hash([ds._fingerprint, tokenizer_digest(tokenizer), max_length, truncation, head_fraction])
    return ds.map(encode, batched=True, remove_columns=[TEXT], desc="tokenize", new_fingerprint=fingerprint)


def check_max_length(model_name: str, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
    """tokenize.max_length must fit the positions the model has: otherwise training
    fails deep inside the first forward pass, after all the tokenizing."""
    config = AutoConfig.from_pretrained(resolve_model(model_name), trust_remote_code=False)
    limits = [getattr(config, "max_position_embeddings", None), tokenizer.model_max_length]
    limits = [int(n) for n in limits if isinstance(n, int) and 0 < n < 1_000_000]
    if limits and max_length > min(limits):
        raise ParamsError(
            f"tokenize.max_length={max_length} is more than model.name {model_name!r} reads "
            f"({min(limits)} tokens): lower it, e.g. -S tokenize.max_length={min(limits)}"
        )
