"""The BiLSTM kind: a bidirectional LSTM (models/bilstm.py) over a word
vocabulary learnt from the train split, trained from scratch by the HF Trainer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.vocabulary import train_word_tokenizer
from sentiment_pipeline.models import bilstm
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.models.kinds import LoadedModel
from sentiment_pipeline.models.network import LABELS, NetworkKind


class BiLSTMKind(NetworkKind):
    def tokenizer_for(self, params: Params, train_texts: Sequence[str]) -> PreTrainedTokenizerBase:
        cfg = params.model.bilstm
        return train_word_tokenizer(train_texts, cfg.vocab_size, cfg.min_frequency)

    def build(self, params: Params, tokenizer: PreTrainedTokenizerBase, attn_implementation: str) -> PreTrainedModel:
        cfg = params.model.bilstm
        config = bilstm.BiLSTMConfig(
            vocab_size=len(tokenizer),
            embedding_dim=cfg.embedding_dim,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
            pad_token_id=tokenizer.pad_token_id,
            **LABELS,
        )
        return bilstm.BiLSTMForSequenceClassification(config)

    def check_config(self, config: dict) -> list[str]:
        """Only the keys and ranges this project writes: a model folder is data."""
        if config.get("model_type") != bilstm.MODEL_TYPE:
            return [f"not the config of a {self.name} model"]
        return bilstm.check_config(config)

    def load(self, model_dir: Path, artifact: ModelArtifact) -> LoadedModel:
        bilstm.register_bilstm()  # the Auto classes learn the architecture from our code
        return super().load(model_dir, artifact)
