"""What every network kind shares: fast-tokenizer encoding, the HF Trainer, a
safetensors model folder, and the one prediction core over token ids.

Prediction runs rows longest first, so each batch pads to nearly its own length
(and an out-of-memory error comes at the first batch), dynamically padded,
under `torch.inference_mode`; the results come back in input order. A kind
that subclasses NetworkKind says which tokenizer it uses (`tokenizer_for`),
what it builds, and which config.json it accepts.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.encoding import Encoder, load_saved_tokenizer, tokenize_dataset
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.hashing import sha256_file
from sentiment_pipeline.models.artifact import ModelArtifact, ModelFolderError
from sentiment_pipeline.models.kinds import LoadedModel, ModelKind
from sentiment_pipeline.paths import LABEL_NAMES, SPLITS
from sentiment_pipeline.precision import Precision, autocast

TOKENIZER_FILE = "tokenizer.json"  # the fast tokenizer: what AutoTokenizer loads, and what is hashed
CHUNK_TEXTS = 4096  # texts tokenized and length-sorted together
LABELS = {
    "num_labels": len(LABEL_NAMES),
    "id2label": dict(enumerate(LABEL_NAMES)),
    "label2id": {label: i for i, label in enumerate(LABEL_NAMES)},
}


def accepted_inputs(model: PreTrainedModel, columns: list[str]) -> list[str]:
    """The input columns `model.forward` takes (DistilBERT and RoBERTa-style
    models take no token_type_ids, whatever a tokenizer produced)."""
    takes_type_ids = "token_type_ids" in inspect.signature(model.forward).parameters
    return [c for c in columns if c != "token_type_ids" or takes_type_ids]


def predict_ids(
    loaded: LoadedModel,
    encoded: Sequence[Sequence[int]],
    batch_size: int,
    device: str = "cpu",
    progress: bool | tqdm = False,
    dtype: str = "fp32",
) -> np.ndarray:
    """The log-odds margin (logit pos - logit neg) of each sequence of token ids
    (special tokens included), in input order. `progress`: a bar of its own, or a
    caller's tqdm to advance (one bar across several calls). `dtype`: fp32, or
    bf16/fp16 autocast (a resolved precision: precision.resolve_precision)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    inputs = accepted_inputs(model, list(tokenizer.model_input_names))
    order = np.argsort([-len(ids) for ids in encoded], kind="stable")
    margins = np.empty(len(encoded), dtype=np.float64)
    own_bar = not isinstance(progress, tqdm)
    bar = tqdm(total=len(encoded), desc="predict", unit="review", disable=not progress) if own_bar else progress
    try:
        with torch.inference_mode(), autocast(Precision(str(device), dtype)):
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                features = [{"input_ids": list(encoded[i]), "attention_mask": [1] * len(encoded[i])} for i in rows]
                batch = tokenizer.pad(features, return_tensors="pt")
                batch = {k: v.to(device) for k, v in batch.items() if k in inputs}
                logits = model(**batch).logits.float()
                margins[rows] = (logits[:, 1] - logits[:, 0]).cpu().numpy()
                bar.update(len(rows))
    finally:
        if own_bar:
            bar.close()
    return margins


class NetworkKind(ModelKind):
    """A PreTrainedModel over token ids, fitted by the HF Trainer."""

    uses_trainer = True

    def tokenizer_for(self, params: Params, train_texts: Sequence[str]) -> PreTrainedTokenizerBase:
        raise NotImplementedError

    def default_tokenizer(self, params: Params) -> PreTrainedTokenizerBase | None:
        """The tokenizer to train with when none was saved (None: the tokenize stage's is needed)."""
        return None

    def check_config(self, config: dict) -> list[str]:
        """What is wrong with the folder's config.json for this kind (empty: nothing)."""
        return []

    def tokenize(self, params: Params, clean: DatasetDict) -> tuple[DatasetDict, Any]:
        from sentiment_pipeline.paths import TEXT

        tokenizer = self.tokenizer_for(params, clean["train"][TEXT])
        cfg = params.tokenize
        tokenized = DatasetDict(
            {
                s: tokenize_dataset(clean[s], tokenizer, cfg.max_length, cfg.truncation, cfg.head_fraction)
                for s in SPLITS
            }
        )
        return tokenized, tokenizer

    def saved_tokenizer(self, folder: Path) -> PreTrainedTokenizerBase:
        return load_saved_tokenizer(folder)

    def check_artifact(self, artifact: ModelArtifact) -> list[str]:
        sha = artifact.tokenizer_sha256
        if isinstance(sha, str) and len(sha) == 64:
            return []
        return ["no tokenizer_sha256 (written before tokenizers were checked): retrain the model"]

    def load(self, model_dir: Path, artifact: ModelArtifact) -> LoadedModel:
        """Safetensors only, never trust_remote_code; the tokenizer checked by its hash."""
        from safetensors import SafetensorError
        from transformers import AutoModelForSequenceClassification

        from sentiment_pipeline.data.sources import check_safe_folder

        try:
            check_safe_folder(model_dir, "model folder")
        except PipelineInputError as err:
            raise ModelFolderError(str(err)) from err
        self._check_config_file(model_dir, artifact)
        tokenizer = _load_tokenizer(model_dir, artifact)
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                model_dir, trust_remote_code=False, use_safetensors=True
            )
        except (OSError, ValueError, SafetensorError) as err:
            raise ModelFolderError(f"{model_dir}: corrupted or incomplete model folder ({err})") from err
        embedded = model.get_input_embeddings().num_embeddings
        if len(tokenizer) > embedded:
            raise ModelFolderError(
                f"{model_dir}: the tokenizer has {len(tokenizer):,} tokens, the model embeds "
                f"{embedded:,}: they do not belong together"
            )
        encoder = Encoder(tokenizer, artifact.max_length, artifact.truncation, artifact.head_fraction)
        return LoadedModel(artifact, model.eval(), tokenizer, encoder)

    def _check_config_file(self, model_dir: Path, artifact: ModelArtifact) -> None:
        path = model_dir / "config.json"
        try:
            config = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelFolderError(f"{model_dir}: corrupted or incomplete model folder ({path.name}: {err})") from err
        if not isinstance(config, dict):
            raise ModelFolderError(f"{path}: not the config of a {artifact.model_type} model")
        problems = self.check_config(config)
        if problems:
            raise ModelFolderError(f"{path}: {'; '.join(problems)}: refused (a model folder is data)")

    def place(self, loaded: LoadedModel, device: str, quantize: str | None) -> str:
        loaded.model.to(device)
        if quantize == "int8":
            from sentiment_pipeline.models.int8 import quantize_int8

            loaded.model = quantize_int8(loaded.model)
        return device

    def margins(
        self, loaded: LoadedModel, texts: Sequence[str], batch_size: int, device: str, dtype: str, progress: Any
    ) -> np.ndarray:
        # CHUNK_TEXTS at a time: memory stays bounded however many texts there are; one bar across the chunks
        with tqdm(total=len(texts), desc="predict", unit="review", disable=not progress) as bar:
            chunks = [
                predict_ids(loaded, loaded.encoder(list(texts[i : i + CHUNK_TEXTS])), batch_size, device, bar, dtype)
                for i in range(0, len(texts), CHUNK_TEXTS)
            ]
        return np.concatenate(chunks) if chunks else np.empty(0)

    def dataset_margins(self, loaded: LoadedModel, ds: Dataset, batch_size: int, device: str, dtype: str) -> np.ndarray:
        loaded.model.to(device)
        return predict_ids(loaded, list(ds["input_ids"]), batch_size, device, progress=True, dtype=dtype)

    def count_tokens(self, loaded: LoadedModel, text: str) -> int:
        return len(loaded.encoder.content_ids([text])[0])

    def token_budget(self, loaded: LoadedModel) -> int | None:
        return loaded.encoder.budget


def _load_tokenizer(model_dir: Path, artifact: ModelArtifact) -> PreTrainedTokenizerBase:
    """The folder's fast tokenizer, refused unless tokenizer.json is the one training saved."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    path = model_dir / TOKENIZER_FILE
    if not path.is_file():
        raise ModelFolderError(f"{model_dir} has no {TOKENIZER_FILE}: its tokenizer is missing, copy the whole folder")
    if sha256_file(path) != artifact.tokenizer_sha256:
        raise ModelFolderError(f"{path} is not the tokenizer this model was trained with (its sha256 differs)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"{model_dir}: corrupted or incomplete model folder ({err})") from err
    if not tokenizer.is_fast or tokenizer.backend_tokenizer.get_vocab() != Tokenizer.from_file(str(path)).get_vocab():
        raise ModelFolderError(f"{model_dir}: the tokenizer loaded is not the one in {TOKENIZER_FILE}")
    return tokenizer
