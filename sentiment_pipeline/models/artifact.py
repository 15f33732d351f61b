"""The model folder contract: `sentiment_pipeline.json` beside the weights.

The train stage writes a `ModelArtifact` (how text was prepared for this model,
which weights it started from); everything that reads a model folder (the
evaluate stage, the analyzer, the CLI, the demo, the MLflow pyfunc) reads it
through `ModelArtifact.read` (models/kinds.py `load` starts there), so the file has one owner and one
validation. Nothing in it depends on the machine (no paths, no times): the
folder's DVC hash depends on params and data only.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_pipeline.config import Params
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.paths import LABEL_NAMES

CONFIG_FILE = "sentiment_pipeline.json"
# the text cleaning data/cleaning.py applies; a folder that names another was
# prepared differently, and its predictions here would be wrong
CLEANING = "strip_html+unescape+normalise_whitespace"
TRUNCATIONS = ("head", "tail", "head_tail")


class ModelFolderError(PipelineInputError):
    """A folder that is not, or no longer, a usable model folder of this pipeline."""


@dataclass(frozen=True)
class ModelArtifact:
    model_type: str  # model.type: a kind in models/kinds.py
    source_model: str  # the kind's label: the base model's name, or the type
    base_model: dict | None  # which pretrained weights training started from (sources.base_model_info)
    clean: str  # the cleaning the texts got (CLEANING)
    max_length: int  # tokens per review, special tokens included
    truncation: str  # head | tail | head_tail
    head_fraction: float  # head_tail: share of the budget from the start
    labels: tuple[str, ...]  # class names by label id
    # divides the log-odds before the softmax (temperature scaling, fitted by train on
    # the validation split); 1.0 = none, and the default for folders written before it
    temperature: float = 1.0
    # networks: sha256 of the tokenizer.json saved beside the weights, so a folder
    # whose tokenizer went missing or was replaced is refused instead of predicting on [UNK]s
    tokenizer_sha256: str | None = None

    @classmethod
    def from_params(cls, params: Params, base_model: dict | None, temperature: float = 1.0) -> ModelArtifact:
        from sentiment_pipeline.models import kinds

        return cls(
            temperature=temperature,
            model_type=params.model.type,
            source_model=kinds.get(params.model.type).label(params.model),
            base_model=base_model,
            clean=CLEANING,
            max_length=params.tokenize.max_length,
            truncation=params.tokenize.truncation,
            head_fraction=params.tokenize.head_fraction,
            labels=tuple(LABEL_NAMES),
        )

    def write(self, model_dir: Path) -> None:
        fields = dataclasses.asdict(self)
        fields["labels"] = list(self.labels)
        (Path(model_dir) / CONFIG_FILE).write_text(json.dumps(fields, indent=2) + "\n")

    @classmethod
    def read(cls, model_dir: str | Path) -> ModelArtifact:
        """The validated contract of `model_dir`; a ModelFolderError naming what is wrong."""
        path = Path(model_dir) / CONFIG_FILE
        if not path.is_file():
            raise ModelFolderError(
                f"{model_dir} is not a model folder of this pipeline (no {CONFIG_FILE}): run the train stage first"
            )
        try:
            raw: Any = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ModelFolderError(f"{path} is not valid JSON: {err}") from err
        if not isinstance(raw, dict):
            raise ModelFolderError(f"{path}: expected a JSON object, got {type(raw).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        if set(raw) - known:
            raise ModelFolderError(
                f"{path} holds settings this pipeline does not write ({', '.join(sorted(set(raw) - known))}): refused"
            )
        names = [f.name for f in dataclasses.fields(cls) if f.name in raw or f.default is dataclasses.MISSING]
        missing = [n for n in names if n not in raw]
        if missing:
            raise ModelFolderError(f"{path} lacks {', '.join(missing)}: retrain the model (dvc repro -f -s train)")
        artifact = cls(**{n: raw[n] for n in names} | {"labels": tuple(raw["labels"])})
        artifact._validate(path)
        return artifact

    def _validate(self, path: Path) -> None:
        problems = self._problems()
        if problems:
            raise ModelFolderError(f"{path}: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        from sentiment_pipeline.models import kinds

        problems = [f"{name} is not a string" for name in _STRINGS if not isinstance(getattr(self, name), str)]
        if self.model_type not in kinds.names():
            problems.append(f"model_type {self.model_type!r} is not one of {', '.join(kinds.names())}")
        else:
            problems += kinds.get(self.model_type).check_artifact(self)
        if self.truncation not in TRUNCATIONS:
            problems.append(f"truncation {self.truncation!r} is not one of {', '.join(TRUNCATIONS)}")
        if not _is_number(self.max_length, int) or self.max_length < 8:
            problems.append(f"max_length {self.max_length!r} is not an integer >= 8")
        if not _is_number(self.head_fraction) or not 0 <= self.head_fraction <= 1:
            problems.append(f"head_fraction {self.head_fraction!r} is not in [0, 1]")
        if self.clean != CLEANING:
            problems.append(f"its texts were cleaned by {self.clean!r}, this version cleans by {CLEANING!r}")
        if not _is_number(self.temperature) or not 0.05 <= self.temperature <= 20:
            problems.append(f"temperature {self.temperature!r} is not a number in [0.05, 20]")
        if self.base_model is not None and not _is_name_mapping(self.base_model):
            problems.append("base_model is not a mapping of names to strings")
        if self.labels != tuple(LABEL_NAMES):
            problems.append(f"labels {list(self.labels)} are not {list(LABEL_NAMES)}")
        return problems

    def with_max_length(self, max_length: int) -> ModelArtifact:
        return dataclasses.replace(self, max_length=max_length)


_STRINGS = ("model_type", "source_model", "clean", "truncation")


def _is_number(value: Any, kind: type | tuple[type, ...] = (int, float)) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _is_name_mapping(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, (str, int, type(None))) for k, v in value.items()
    )
