"""The pretrained-transformer kind: `model.name` (pip:<package>, Hub id or
local folder) fine-tuned as a 2-class `AutoModelForSequenceClassification`."""

from __future__ import annotations

from collections.abc import Sequence

from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase

from sentiment_pipeline.config import ModelParams, Params, ParamsError
from sentiment_pipeline.data.encoding import check_max_length, load_tokenizer
from sentiment_pipeline.data.sources import base_model_info, is_local, is_pip, loading, resolve_model
from sentiment_pipeline.models import bilstm
from sentiment_pipeline.models.network import LABELS, NetworkKind

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


class TransformerKind(NetworkKind):
    """Fine-tuning a pretrained encoder; its own tokenizer; named after its base model."""

    card_library = "transformers"

    def label(self, model: ModelParams) -> str:
        return model.name

    def base_model(self, model: ModelParams) -> dict | None:
        return base_model_info(model.name)

    def check(self, params: Params) -> None:
        check_max_length(params.model.name, load_tokenizer(params.model.name), params.tokenize.max_length)
        check_dropouts(params.model)

    def default_tokenizer(self, params: Params) -> PreTrainedTokenizerBase:
        return load_tokenizer(params.model.name)

    def tokenizer_for(self, params: Params, train_texts: Sequence[str]) -> PreTrainedTokenizerBase:
        tokenizer = load_tokenizer(params.model.name)
        check_max_length(params.model.name, tokenizer, params.tokenize.max_length)  # before the tokenizing
        return tokenizer

    def build(self, params: Params, tokenizer: PreTrainedTokenizerBase, attn_implementation: str) -> PreTrainedModel:
        m = params.model
        model = build_classifier(m.name, m.hidden_dropout, m.attention_dropout, attn_implementation)
        if params.train.freeze_embeddings:
            model.get_input_embeddings().weight.requires_grad_(False)  # the Trainer's AdamW skips it
        return model

    def check_config(self, config: dict) -> list[str]:
        if config.get("model_type") == bilstm.MODEL_TYPE:
            return [f"not the config of a {self.name} model"]
        return []
