"""One owner for `model.type`: the registry of model kinds.

A kind is everything one type of model does, from cleaned text to log-odds
(setfit's SetFitModel, transformers' Auto classes): how it tokenizes the data,
what it builds (a network the Hugging Face Trainer fits) or how it fits itself,
how its folder is loaded, and how it predicts. Stages, training, inference,
serving and tracking ask the kind (`get(params.model.type)`, or a loaded
model's `kind`) and never compare type names; the names are written only here
(and as config.py's default). A new kind is one `register` call:

    register("my_kind", MyKind())     # a ModelKind subclass; then model.type=my_kind works everywhere
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentiment_pipeline.config import ParamsError
from sentiment_pipeline.errors import PipelineInputError

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from sentiment_pipeline.config import ModelParams, Params
    from sentiment_pipeline.models.artifact import ModelArtifact


@dataclass
class LoadedModel:
    """A model folder in memory: its contract, its kind, the model, and (networks) its tokenizer and encoder."""

    artifact: ModelArtifact
    model: Any  # a transformers PreTrainedModel, a scikit-learn Pipeline, ...
    tokenizer: Any = None  # PreTrainedTokenizerBase where the kind reads token ids
    encoder: Any = None  # data.encoding.Encoder, built from the artifact's max_length and truncation

    @property
    def kind(self) -> ModelKind:
        return get(self.artifact.model_type)


class ModelKind:
    """The interface every kind implements; the defaults suit a kind trained from scratch."""

    name: str = ""  # set by `register`
    uses_trainer: bool = True  # True: the HF Trainer fits `build()`; False: `fit()` does it all
    card_library: str | None = None  # the model card's library_name

    def label(self, model: ModelParams) -> str:
        """What the model is called in tags, model folders and tables."""
        return self.name

    def base_model(self, model: ModelParams) -> dict | None:
        """Which pretrained weights training starts from (None: from scratch)."""
        return None

    def check(self, params: Params) -> None:
        """The validate stage's checks of this kind's settings (a PipelineInputError)."""

    # -- data ----------------------------------------------------------------------
    def tokenize(self, params: Params, clean: DatasetDict) -> tuple[DatasetDict, Any]:
        """The tokenize stage: clean splits -> (what train reads, the tokenizer to save or None)."""
        raise NotImplementedError

    def saved_tokenizer(self, folder: Path) -> Any:
        """The tokenizer the tokenize stage saved (None where the kind has none)."""
        return None

    # -- training --------------------------------------------------------------------
    def build(self, params: Params, tokenizer: Any, attn_implementation: str) -> Any:
        """uses_trainer: the PreTrainedModel the Trainer fits."""
        raise NotImplementedError

    def fit(self, params: Params, tokenized: DatasetDict, loss_fn: Any) -> tuple[Any, dict]:
        """not uses_trainer: fit on train, score validation -> (model, its one history row).
        `loss_fn` is training's SentimentWeightedLoss (length weights, confidence factors)."""
        raise NotImplementedError

    def save(self, model: Any, folder: Path) -> dict:
        """not uses_trainer: write the model's files; returns extra metrics (e.g. its size)."""
        raise NotImplementedError

    def n_parameters(self, model: Any) -> int:
        return sum(p.numel() for p in model.parameters())

    # -- a model folder --------------------------------------------------------------
    def check_artifact(self, artifact: ModelArtifact) -> list[str]:
        """What is wrong with this kind's sentiment_pipeline.json (empty: nothing)."""
        return []

    def load(self, model_dir: Path, artifact: ModelArtifact) -> LoadedModel:
        raise NotImplementedError

    def place(self, loaded: LoadedModel, device: str, quantize: str | None) -> str:
        """Move (and int8-quantize) the model for prediction; the device it runs on."""
        if quantize:
            raise PipelineInputError(f"quantize={quantize!r} applies to networks, not to {self.name}")
        return "cpu"

    # -- prediction --------------------------------------------------------------------
    def margins(
        self, loaded: LoadedModel, texts: Sequence[str], batch_size: int, device: str, dtype: str, progress: Any
    ) -> np.ndarray:
        """The log-odds (logit pos - logit neg) of each cleaned text, in input order."""
        raise NotImplementedError

    def dataset_margins(self, loaded: LoadedModel, ds: Dataset, batch_size: int, device: str, dtype: str) -> np.ndarray:
        """The log-odds of each row of what `tokenize` wrote, in row order."""
        raise NotImplementedError

    def count_tokens(self, loaded: LoadedModel, text: str) -> int:
        """Tokens of a cleaned text before truncation (words, for a kind without a tokenizer)."""
        return len(text.split())

    def token_budget(self, loaded: LoadedModel) -> int | None:
        """How many of a review's tokens the model reads (None: all of them)."""
        return None


_KINDS: dict[str, ModelKind] = {}


def _registry() -> dict[str, ModelKind]:
    """The kinds, the built-in ones registered on first use (their modules import this one)."""
    if not _KINDS:
        _register_builtin()
    return _KINDS


def register(name: str, kind: ModelKind) -> ModelKind:
    """Make `model.type=name` mean `kind`, everywhere (stages, analyzer, serving)."""
    kind.name = name
    _registry()[name] = kind
    return kind


def names() -> tuple[str, ...]:
    return tuple(_registry())


def get(name: str) -> ModelKind:
    """The kind `model.type` names; a ParamsError listing the known ones."""
    kinds = _registry()
    if name not in kinds:
        raise ParamsError(f"model.type={name!r} is not a model kind: use one of {', '.join(kinds)}")
    return kinds[name]


def load(model_dir: str | Path, max_length: int | None = None) -> LoadedModel:
    """Any model folder the train stage wrote, on the CPU (callers move it), read
    by its kind. Nothing in the folder can run code: no pickle, never
    trust_remote_code; what is loaded is what was checked. `max_length`
    overrides the token budget it was trained with."""
    from sentiment_pipeline.models.artifact import ModelArtifact

    artifact = ModelArtifact.read(model_dir)
    if max_length is not None:
        artifact = artifact.with_max_length(max_length)
    return get(artifact.model_type).load(Path(model_dir), artifact)


def _register_builtin() -> None:
    from sentiment_pipeline.models.bilstm_kind import BiLSTMKind
    from sentiment_pipeline.models.tfidf_kind import TfidfKind
    from sentiment_pipeline.models.transformer import TransformerKind

    for name, kind in (("transformer", TransformerKind()), ("bilstm", BiLSTMKind()), ("tfidf_logreg", TfidfKind())):
        kind.name = name
        _KINDS[name] = kind
