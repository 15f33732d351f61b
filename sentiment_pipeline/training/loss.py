"""SentimentWeightedLoss: cross-entropy weighted by review length and by how
confidently a mistake was made.

For a batch of N reviews with logits z_i, labels y_i and lengths L_i (words)::

    ce_i = -log softmax(z_i)[y_i]
    w_i  = L_i**a / mean_j(L_j**a)                 a = length_weight      (a = 0: w_i = 1)
    c_i  = 1 + g * p_wrong_i  if argmax z_i != y_i, else 1                 g = confidence_penalty
    loss = mean_i(ce_i * w_i * c_i)

p_wrong_i is the probability the model gave the (wrong) class it predicted.
With a = g = 0 the loss is exactly the mean cross-entropy. w and c are
treated as per-sample weights (no gradient flows through them), so the
gradient of each sample keeps the direction of plain cross-entropy and only
its size changes. `length_norm="dataset"` divides by the mean of L**a over the
whole training set instead of the batch, which keeps the weighting intact when
batches are grouped by length (a length-grouped batch has near-equal lengths).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sentiment_pipeline.config import LossParams


class SentimentWeightedLoss(nn.Module):
    def __init__(
        self,
        length_weight: float = 0.0,
        confidence_penalty: float = 0.0,
        length_norm: str = "batch",
        length_reference: float | None = None,
    ) -> None:
        super().__init__()
        if length_weight < 0 or confidence_penalty < 0:
            raise ValueError("length_weight and confidence_penalty must be >= 0")
        if length_norm not in ("batch", "dataset"):
            raise ValueError(f"length_norm must be 'batch' or 'dataset', got {length_norm!r}")
        if length_norm == "dataset" and not (length_reference and length_reference > 0):
            raise ValueError("length_norm='dataset' needs length_reference = mean(L**length_weight) > 0")
        self.length_weight = float(length_weight)
        self.confidence_penalty = float(confidence_penalty)
        self.length_norm = length_norm
        self.length_reference = length_reference

    @staticmethod
    def reference_for(lengths: torch.Tensor, length_weight: float) -> float:
        """mean(L**length_weight) over a whole dataset, for length_norm='dataset'."""
        return float(lengths.double().clamp(min=1).pow(length_weight).mean())

    def length_weights(self, lengths: torch.Tensor) -> torch.Tensor:
        """w_i = L_i**a normalised to mean 1 (over the batch, or the dataset reference)."""
        lengths = lengths.to(torch.float32)
        if self.length_weight == 0:
            return torch.ones_like(lengths)
        raw = lengths.clamp(min=1).pow(self.length_weight)
        denom = raw.mean() if self.length_norm == "batch" else raw.new_tensor(self.length_reference)
        return raw / denom

    def confidence_factors(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """c_i = 1 + g * p(predicted class) for wrong predictions, 1 for right ones."""
        if self.confidence_penalty == 0:
            return torch.ones(logits.shape[0], dtype=logits.dtype, device=logits.device)
        probs = logits.detach().float().softmax(dim=-1)
        p_pred, predicted = probs.max(dim=-1)
        wrong = (predicted != labels).to(probs.dtype)
        return (1 + self.confidence_penalty * p_pred * wrong).to(logits.dtype)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if logits.ndim != 2 or labels.shape != logits.shape[:1]:
            raise ValueError(
                f"expected logits (N, C) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}"
            )
        per_sample = F.cross_entropy(logits, labels, reduction="none")
        if self.length_weight != 0:
            if lengths is None:
                raise ValueError("length_weight > 0 needs the review lengths")
            per_sample = per_sample * self.length_weights(lengths.to(logits.device)).to(per_sample.dtype)
        if self.confidence_penalty != 0:
            per_sample = per_sample * self.confidence_factors(logits, labels)
        return per_sample.mean()

    def extra_repr(self) -> str:
        return (
            f"length_weight={self.length_weight}, confidence_penalty={self.confidence_penalty}, "
            f"length_norm={self.length_norm!r}"
        )


def build_loss(cfg: LossParams, train_lengths: torch.Tensor, length_norm: str | None = None) -> SentimentWeightedLoss:
    """The loss `train.loss` describes, for every model type. `train_lengths` (words
    per train review) set the dataset reference when the length weights are
    normalised over the dataset; `length_norm` overrides cfg.length_norm (one
    scikit-learn fit sees the whole train set, so there batch and dataset coincide)."""
    norm = length_norm or cfg.length_norm
    reference = SentimentWeightedLoss.reference_for(train_lengths, cfg.length_weight) if norm == "dataset" else None
    return SentimentWeightedLoss(cfg.length_weight, cfg.confidence_penalty, norm, reference)
