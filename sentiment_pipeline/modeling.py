"""Building the sequence classifier from `model.name` (Hub id or local folder)."""

from __future__ import annotations

from transformers import AutoModelForSequenceClassification, PreTrainedModel

from .layout import LABEL_NAMES
from .sources import check_local, loading


def build_classifier(name: str) -> PreTrainedModel:
    """A 2-class `AutoModelForSequenceClassification` with neg/pos label names.

    A checkpoint without a classification head (e.g. a sentence-transformers
    encoder) gets a freshly initialised one; transformers says so in its log.
    """
    path = check_local(name, "model.name")
    with loading(name, "model.name"):
        return AutoModelForSequenceClassification.from_pretrained(
            path,
            num_labels=len(LABEL_NAMES),
            id2label=dict(enumerate(LABEL_NAMES)),
            label2id={label: i for i, label in enumerate(LABEL_NAMES)},
        )


def count_parameters(model: PreTrainedModel) -> int:
    return sum(p.numel() for p in model.parameters())
