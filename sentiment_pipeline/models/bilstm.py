"""A bidirectional LSTM classifier as a transformers model.

Written as a `PreTrainedModel` so that everything built for transformers
applies unchanged: the HF Trainer (and with it the custom loss, length-grouped
batches, mixed precision, checkpoint/resume, DDP), `save_pretrained` to
safetensors + config.json, and `AutoModelForSequenceClassification` loading.
The Auto classes learn the "sentiment-bilstm" type when this module is
imported (`register`), from our own code: no `trust_remote_code`.

Architecture: embedding -> `num_layers` bidirectional LSTM (dropout between
layers) over packed sequences, so padding never enters the recurrence ->
the last layer's final forward and backward states -> dropout -> linear.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "sentiment-bilstm"


class BiLSTMConfig(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = 30000,
        embedding_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.3,
        pad_token_id: int = 0,
        **kwargs,
    ) -> None:
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        super().__init__(pad_token_id=pad_token_id, **kwargs)


class BiLSTMForSequenceClassification(PreTrainedModel):
    config_class = BiLSTMConfig
    base_model_prefix = "bilstm"
    main_input_name = "input_ids"

    def __init__(self, config: BiLSTMConfig) -> None:
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(2 * config.hidden_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.1)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            module.reset_parameters()  # PyTorch's own LSTM init

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = (input_ids != self.config.pad_token_id).long()
        lengths = attention_mask.sum(dim=1).clamp(min=1)  # an empty review still gets one step
        packed = pack_padded_sequence(self.embeddings(input_ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)  # h_n: (layers * 2, batch, hidden), in input order
        final = torch.cat([h_n[-2], h_n[-1]], dim=-1)  # last layer, forward and backward
        logits = self.classifier(self.dropout(final))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


# what save_pretrained writes for a BiLSTMConfig, and the ranges this project trains in
CONFIG_KEYS = {
    "architectures",
    "dropout",
    "dtype",
    "embedding_dim",
    "hidden_size",
    "id2label",
    "label2id",
    "model_type",
    "num_layers",
    "pad_token_id",
    "transformers_version",
    "use_cache",  # the Trainer's save sets it
    "vocab_size",
}
SIZES = {"vocab_size": 10_000_000, "embedding_dim": 8192, "hidden_size": 8192, "num_layers": 64}


def check_config(config: dict) -> list[str]:
    """What is wrong with a BiLSTM folder's config.json (empty: nothing): a model
    folder is data, so only the keys and ranges this project writes are accepted."""
    problems = [f"unknown setting {k!r}" for k in sorted(set(config) - CONFIG_KEYS)]
    if config.get("architectures") not in (None, [BiLSTMForSequenceClassification.__name__]):
        problems.append(f"architectures {config.get('architectures')!r}")
    for key, most in SIZES.items():
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
            problems.append(f"{key}={value!r} is not an integer in [1, {most:,}]")
    dropout = config.get("dropout")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        problems.append(f"dropout={dropout!r} is not in [0, 1)")
    pad = config.get("pad_token_id")
    if not isinstance(pad, int) or isinstance(pad, bool) or not 0 <= pad < (config.get("vocab_size") or 0):
        problems.append(f"pad_token_id={pad!r} is not a token id")
    return problems


def register_bilstm() -> None:
    """Teach AutoConfig / AutoModelForSequenceClassification the bilstm type, so a
    saved BiLSTM folder loads like any transformer. Called by whoever loads one
    (models.artifact.load), not at import."""
    try:
        AutoConfig.register(MODEL_TYPE, BiLSTMConfig)
        AutoModelForSequenceClassification.register(BiLSTMConfig, BiLSTMForSequenceClassification)
    except ValueError:  # already registered
        pass
