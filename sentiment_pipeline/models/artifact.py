"""The model folder contract: `sentiment_pipeline.json` beside the weights, and
loading any model folder the train stage wrote.

The train stage writes a `ModelArtifact` (how text was prepared for this model,
which weights it started from); everything that reads a model folder (the
evaluate stage, the analyzer, the CLI, the demo, the MLflow pyfunc) reads it
through `ModelArtifact.read` or `load`, so the file has one owner and one
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
MODEL_TYPES = ("transformer", "bilstm", "tfidf_logreg")
TRUNCATIONS = ("head", "tail", "head_tail")


class ModelFolderError(PipelineInputError):
    """A folder that is not, or no longer, a usable model folder of this pipeline."""


@dataclass(frozen=True)
class ModelArtifact:
    model_type: str  # transformer | bilstm | tfidf_logreg
    source_model: str  # model.name for a transformer, else the model type
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
        return cls(
            temperature=temperature,
            model_type=params.model.type,
            source_model=params.model.label,
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
        problems = []
        if self.model_type not in MODEL_TYPES:
            problems.append(f"model_type {self.model_type!r} is not one of {', '.join(MODEL_TYPES)}")
        if self.truncation not in TRUNCATIONS:
            problems.append(f"truncation {self.truncation!r} is not one of {', '.join(TRUNCATIONS)}")
        if not isinstance(self.max_length, int) or isinstance(self.max_length, bool) or self.max_length < 8:
            problems.append(f"max_length {self.max_length!r} is not an integer >= 8")
        if not isinstance(self.head_fraction, (int, float)) or not 0 <= self.head_fraction <= 1:
            problems.append(f"head_fraction {self.head_fraction!r} is not in [0, 1]")
        if self.clean != CLEANING:
            problems.append(f"its texts were cleaned by {self.clean!r}, this version cleans by {CLEANING!r}")
        if (
            not isinstance(self.temperature, (int, float))
            or isinstance(self.temperature, bool)
            or not 0.05 <= self.temperature <= 20
        ):
            problems.append(f"temperature {self.temperature!r} is not a number in [0.05, 20]")
        if self.base_model is not None and not (
            isinstance(self.base_model, dict)
            and all(isinstance(k, str) and isinstance(v, (str, int, type(None))) for k, v in self.base_model.items())
        ):
            problems.append("base_model is not a mapping of names to strings")
        for name in ("model_type", "source_model", "clean", "truncation"):
            if not isinstance(getattr(self, name), str):
                problems.append(f"{name} is not a string")
        if self.model_type != "tfidf_logreg" and not (
            isinstance(self.tokenizer_sha256, str) and len(self.tokenizer_sha256) == 64
        ):
            problems.append("no tokenizer_sha256 (written before tokenizers were checked): retrain the model")
        if self.labels != tuple(LABEL_NAMES):
            problems.append(f"labels {list(self.labels)} are not {list(LABEL_NAMES)}")
        if problems:
            raise ModelFolderError(f"{path}: " + "; ".join(problems))

    def with_max_length(self, max_length: int) -> ModelArtifact:
        return dataclasses.replace(self, max_length=max_length)


@dataclass
class LoadedModel:
    """A model folder in memory: its contract, the model, and (networks) its tokenizer."""

    artifact: ModelArtifact
    model: Any  # a transformers PreTrainedModel, or the TF-IDF scikit-learn Pipeline
    tokenizer: Any  # PreTrainedTokenizerBase, None for tfidf_logreg

    @property
    def is_network(self) -> bool:
        return self.artifact.model_type != "tfidf_logreg"


TOKENIZER_FILE = "tokenizer.json"  # the fast tokenizer: what AutoTokenizer loads, and what is hashed


def load(model_dir: str | Path) -> LoadedModel:
    """Load any model folder the train stage wrote, on the CPU (callers move it).
    Nothing in the folder can run code: no pickle (safetensors only), never
    trust_remote_code; what is loaded is what was checked (the tokenizer file
    by its hash, the BiLSTM config by an allow-list)."""
    model_dir = Path(model_dir)
    artifact = ModelArtifact.read(model_dir)
    if artifact.model_type == "tfidf_logreg":
        from sentiment_pipeline.models import tfidf

        return LoadedModel(artifact, tfidf.load(model_dir), None)
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification

    from sentiment_pipeline.data.sources import check_safe_folder
    from sentiment_pipeline.models.bilstm import register_bilstm

    register_bilstm()
    try:
        check_safe_folder(model_dir, "model folder")
    except PipelineInputError as err:
        raise ModelFolderError(str(err)) from err
    _check_config(model_dir, artifact)
    tokenizer = _load_tokenizer(model_dir, artifact)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, trust_remote_code=False, use_safetensors=True
        )
    except (OSError, ValueError, SafetensorError) as err:
        raise ModelFolderError(f"{model_dir}: corrupted or incomplete model folder ({err})") from err
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        raise ModelFolderError(
            f"{model_dir}: the tokenizer has {len(tokenizer):,} tokens, the model embeds "
            f"{model.get_input_embeddings().num_embeddings:,}: they do not belong together"
        )
    return LoadedModel(artifact, model.eval(), tokenizer)


def _check_config(model_dir: Path, artifact: ModelArtifact) -> None:
    from sentiment_pipeline.models import bilstm

    path = model_dir / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"{model_dir}: corrupted or incomplete model folder ({path.name}: {err})") from err
    is_bilstm = isinstance(config, dict) and config.get("model_type") == bilstm.MODEL_TYPE
    if not isinstance(config, dict) or is_bilstm != (artifact.model_type == "bilstm"):
        raise ModelFolderError(f"{path}: not the config of a {artifact.model_type} model")
    problems = bilstm.check_config(config) if is_bilstm else []
    if problems:
        raise ModelFolderError(f"{path}: {'; '.join(problems)}: refused (a model folder is data)")


def _load_tokenizer(model_dir: Path, artifact: ModelArtifact):
    """The folder's fast tokenizer, refused unless tokenizer.json is the one training saved."""
    from transformers import AutoTokenizer

    from sentiment_pipeline.hashing import sha256_file

    path = model_dir / TOKENIZER_FILE
    if not path.is_file():
        raise ModelFolderError(f"{model_dir} has no {TOKENIZER_FILE}: its tokenizer is missing, copy the whole folder")
    if sha256_file(path) != artifact.tokenizer_sha256:
        raise ModelFolderError(f"{path} is not the tokenizer this model was trained with (its sha256 differs)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"{model_dir}: corrupted or incomplete model folder ({err})") from err
    from tokenizers import Tokenizer

    if not tokenizer.is_fast or tokenizer.backend_tokenizer.get_vocab() != Tokenizer.from_file(str(path)).get_vocab():
        raise ModelFolderError(f"{model_dir}: the tokenizer loaded is not the one in {TOKENIZER_FILE}")
    return tokenizer
