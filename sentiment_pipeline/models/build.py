"""Building the classifier `model.type` names: a pretrained transformer
(`model.name`: pip:<package>, Hub id or local folder) or a BiLSTM over the data's word vocabulary."""

from __future__ import annotations

import inspect

from transformers import AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase

from sentiment_pipeline.config import ModelParams
from sentiment_pipeline.data.sources import loading, resolve_model
from sentiment_pipeline.models.bilstm import BiLSTMConfig, BiLSTMForSequenceClassification
from sentiment_pipeline.paths import LABEL_NAMES

LABELS = {
    "num_labels": len(LABEL_NAMES),
    "id2label": dict(enumerate(LABEL_NAMES)),
    "label2id": {label: i for i, label in enumerate(LABEL_NAMES)},
}


def build_classifier(name: str) -> PreTrainedModel:
    """A 2-class `AutoModelForSequenceClassification` with neg/pos label names.

    A checkpoint without a classification head (e.g. a sentence-transformers
    encoder) gets a freshly initialised one; transformers says so in its log.
    """
    path = resolve_model(name, "model.name")
    with loading(name, "model.name"):
        return AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=False, **LABELS)


def build_model(model: ModelParams, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """The network to train for `model.type` (tfidf_logreg is no network: models/tfidf.py)."""
    if model.type == "transformer":
        return build_classifier(model.name)
    if model.type == "bilstm":
        cfg = model.bilstm
        config = BiLSTMConfig(
            vocab_size=len(tokenizer),
            embedding_dim=cfg.embedding_dim,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
            pad_token_id=tokenizer.pad_token_id,
            **LABELS,
        )
        return BiLSTMForSequenceClassification(config)
    raise ValueError(f"model.type={model.type!r} is not a neural network")


def accepted_inputs(model: PreTrainedModel, columns: list[str]) -> list[str]:
    """The input columns `model.forward` takes (DistilBERT and RoBERTa-style
    models take no token_type_ids, whatever a tokenizer produced)."""
    takes_type_ids = "token_type_ids" in inspect.signature(model.forward).parameters
    return [c for c in columns if c != "token_type_ids" or takes_type_ids]


def count_parameters(model: PreTrainedModel) -> int:
    return sum(p.numel() for p in model.parameters())
