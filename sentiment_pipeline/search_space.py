"""The `search` section of params.yaml: the hyperparameter search's space and
pruner (tools/hparam_search.py). Which keys it may name is checked against the
train section in config.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, model_validator

from sentiment_pipeline.params_section import Section as _Section


class SearchRange(_Section):
    """A numeric range: integers for an integer param (train.batch_size), else floats."""

    low: float
    high: float
    log: bool = False  # sample on a log scale (learning rates)

    @model_validator(mode="after")
    def _check(self) -> SearchRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("log scale needs low > 0")
        return self


class SearchChoices(_Section):
    choices: list[float | int | str | bool] = Field(min_length=1)


def _spec_kind(value: Any) -> str:
    return (
        "choices" if isinstance(value, SearchChoices) or (isinstance(value, dict) and "choices" in value) else "range"
    )


# {choices: [...]} is a SearchChoices, anything else must be a SearchRange (one clear error, not two)
SearchSpec = Annotated[
    Annotated[SearchRange, Tag("range")] | Annotated[SearchChoices, Tag("choices")], Discriminator(_spec_kind)
]


class PrunerParams(_Section):
    """Optuna's MedianPruner: stop a trial whose validation F1 after an epoch is
    below the median of earlier trials at that epoch."""

    n_startup_trials: int = Field(default=3, ge=0)  # no pruning until this many trials finished
    n_warmup_epochs: int = Field(default=0, ge=0)  # nor before this many epochs of a trial


class SearchParams(_Section):
    """The hyperparameter search (tools/hparam_search.py), not a DVC stage."""

    study_name: str = Field(default="imdb-search", min_length=1)
    n_trials: int = Field(default=20, gt=0)  # in total: a resumed search runs only the missing ones
    epochs: float | None = Field(default=None, gt=0)  # per trial; None = train.epochs
    seed: int = Field(default=42, ge=0, lt=2**32)  # Optuna's TPE sampler
    pruner: PrunerParams = PrunerParams()
    # dotted param name -> {low, high[, log]} or {choices: [...]}
    space: dict[str, SearchSpec] = Field(
        default_factory=lambda: {
            "train.lr": SearchRange(low=1e-5, high=2e-4, log=True),
            "train.batch_size": SearchChoices(choices=[8, 16, 32]),
            "train.warmup_ratio": SearchRange(low=0.0, high=0.2),
            "train.weight_decay": SearchRange(low=0.0, high=0.1),
            "train.loss.length_weight": SearchRange(low=0.0, high=1.0),
            "train.loss.confidence_penalty": SearchRange(low=0.0, high=2.0),
        }
    )
