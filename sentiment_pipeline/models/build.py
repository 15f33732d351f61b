"""Building the classifier `model.type` names: a pretrained transformer
(`model.name`: pip:<package>, Hub id or local folder) or a BiLSTM over the data's word vocabulary."""

from __future__ import annotations

import inspect

from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase

from sentiment_pipeline.config import ModelParams, ParamsError
from sentiment_pipeline.data.sources import is_local, is_pip, loading, resolve_model
from sentiment_pipeline.models.bilstm import BiLSTMConfig, BiLSTMForSequenceClassification
from sentiment_pipeline.paths import LABEL_NAMES

LABELS = {
    "num_labels": len(LABEL_NAMES),
    "id2label": dict(enumerate(LABEL_NAMES)),
    "label2id": {label: i for i, label in enumerate(LABEL_NAMES)},
}


# the config attributes that hold each dropout, by architecture family: BERT, RoBERTa,
# ELECTRA, DeBERTa (hidden_dropout_prob / attention_probs_dropout_prob), DistilBERT
# (dropout / attention_dropout), GPT-2 style (resid_pdrop / attn_pdrop)
DROPOUT_ATTRIBUTES = {
    "hidden_dropout": ("hidden_dropout_prob", "dropout", "resid_pdrop"),
    "attention_dropout": ("attention_probs_dropout_prob", "attention_dropout", "attn_pdrop"),
}


def dropout_overrides(config, hidden_dropout: float | None, attention_dropout: float | None) -> dict[str, float]:
    """The config attributes to set for `model.hidden_dropout` / `model.attention_dropout`
    (None = keep the checkpoint's own); a ParamsError when the architecture has no such dropout."""
    overrides = {}
    for setting, value in (("hidden_dropout", hidden_dropout), ("attention_dropout", attention_dropout)):
        if value is None:
            continue
        names = [n for n in DROPOUT_ATTRIBUTES[setting] if isinstance(getattr(config, n, None), (int, float))]
        if not names:
            raise ParamsError(
                f"model.{setting}={value}: a {config.model_type} model has none of the dropout settings "
                f"{', '.join(DROPOUT_ATTRIBUTES[setting])}: set it to null (keep the model's own)"
            )
        overrides[names[0]] = float(value)
    return overrides


def check_dropouts(model: ModelParams) -> None:
    """A ParamsError now (the validate stage) for a dropout the architecture lacks."""
    if model.hidden_dropout is None and model.attention_dropout is None:
        return
    path = resolve_model(model.name, "model.name")
    with loading(model.name, "model.name"):
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    dropout_overrides(config, model.hidden_dropout, model.attention_dropout)


def build_classifier(
    name: str,
    hidden_dropout: float | None = None,
    attention_dropout: float | None = None,
    attn_implementation: str = "sdpa",
) -> PreTrainedModel:
    """A 2-class `AutoModelForSequenceClassification` with neg/pos label names and
    the dropouts asked for (None = the checkpoint's own).

    A checkpoint without a classification head (e.g. a sentence-transformers
    encoder) gets a freshly initialised one; transformers says so in its log.
    Attention dropout 0 lets SDPA take its fused kernel (with dropout it falls
    back to explicit matmuls and softmax): a third of a CPU training step.
    `attn_implementation`: transformers' attention kernel (eager or sdpa).
    """
    path = resolve_model(name, "model.name")
    with loading(name, "model.name"):
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
        for key, value in dropout_overrides(config, hidden_dropout, attention_dropout).items():
            setattr(config, key, value)
        for key, value in LABELS.items():
            setattr(config, key, value)
        return AutoModelForSequenceClassification.from_pretrained(
            path,
            config=config,
            trust_remote_code=False,
            attn_implementation=attn_implementation,
            # a local folder is read as safetensors only: a pickle beside a decoy .safetensors never loads
            use_safetensors=True if is_local(name) or is_pip(name) else None,
        )


def build_model(
    model: ModelParams, tokenizer: PreTrainedTokenizerBase, attn_implementation: str = "sdpa"
) -> PreTrainedModel:
    """The network to train for `model.type` (tfidf_logreg is no network: models/tfidf.py)."""
    if model.type == "transformer":
        return build_classifier(model.name, model.hidden_dropout, model.attention_dropout, attn_implementation)
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
