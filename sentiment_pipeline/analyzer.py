"""SentimentAnalyzer: a trained model folder (or MLflow model URI) as a Python API.

    analyzer = SentimentAnalyzer.from_pretrained("models/best")
    analyzer.predict("A wonderful film.")          # Prediction(label='pos', confidence=0.93, scores={...})
    analyzer.predict_batch(reviews)                 # one Prediction per review, in input order

Text is prepared exactly as the pipeline prepared it for that model, from the
`sentiment_pipeline.json` saved beside it (cleaning, max_length, truncation
strategy), not from re-typed settings. Batches are sorted by length (each pads
to nearly its own length), run under `torch.inference_mode`, and returned in
input order.

Bad input is refused before any model work with a `PipelineInputError` naming
the problem: a non-string item, an empty or whitespace-only text (there is
nothing to classify; its index is named). A very long review is not an error:
like in training, it is cut to the model's token budget (head, tail or
head+tail as trained). Any number of texts is accepted: they are tokenized and
predicted `CHUNK_TEXTS` at a time (memory stays bounded: 100,000 reviews need
no more than 4,096 do), `batch_size` per forward pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from safetensors import SafetensorError
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from . import bilstm  # noqa: F401  (registers the bilstm type with the Auto classes)
from . import tfidf_logreg
from .cleaning import clean_text
from .errors import PipelineInputError
from .inference import read_pipeline_config
from .layout import LABEL_NAMES
from .modeling import accepted_inputs
from .precision import resolve_device
from .tokenization import SpecialTokens, truncate_ids

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")
CHUNK_TEXTS = 4096  # texts tokenized and length-sorted together


@dataclass(frozen=True)
class Prediction:
    label: str  # "neg" or "pos"
    confidence: float  # probability of `label`
    scores: dict[str, float]  # probability of each class

    def to_dict(self) -> dict:
        return asdict(self)


def validate_texts(texts: Sequence) -> list[str]:
    """The texts as a list of str; a clear error for anything else."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise PipelineInputError(f"expected a list of texts, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise PipelineInputError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise PipelineInputError(f"text {i} is empty or whitespace only: nothing to classify")
    return texts


def _resolve(path_or_uri: str | Path) -> Path:
    """A local model folder: the path itself, or an MLflow model downloaded from its URI."""
    text = str(path_or_uri)
    if text.startswith(MLFLOW_SCHEMES):
        import mlflow

        from . import tracking

        mlflow.set_tracking_uri(tracking.tracking_uri())
        try:
            local = Path(mlflow.artifacts.download_artifacts(text))
        except Exception as err:  # MlflowException, or an unknown scheme/registry entry
            raise PipelineInputError(f"cannot load MLflow model {text!r}: {err}") from None
        found = [p.parent for p in local.rglob("sentiment_pipeline.json")]
        if not found:
            raise PipelineInputError(f"MLflow model {text!r} holds no model folder of this pipeline")
        return found[0]
    path = Path(text).expanduser()
    if not path.is_dir():
        raise PipelineInputError(f"model path {text!r} does not exist or is not a folder")
    return path


class SentimentAnalyzer:
    def __init__(self, model_dir: Path, config: dict, model, tokenizer, device: str) -> None:
        self.model_dir = model_dir
        self.config = config
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.model_type = config.get("model_type", "transformer")
        if tokenizer is not None:
            self._specials = SpecialTokens.of(tokenizer)
            self._budget = int(config["max_length"]) - len(self._specials)
            self._inputs = accepted_inputs(model, list(tokenizer.model_input_names))

    @classmethod
    def from_pretrained(cls, path_or_uri: str | Path, device: str = "auto", quantize: str | None = None,
                        max_length: int | None = None) -> "SentimentAnalyzer":
        """Load a model folder the train stage wrote (`models/best`), or an MLflow
        model URI (`models:/<name>/<version>`, `runs:/<run_id>/model`).

        `quantize="int8"` (CPU, networks only): dynamic int8 quantization of the
        linear (and LSTM) layers, weights stored as int8 and activations quantized
        on the fly; several times faster on a CPU, at a small accuracy cost
        (README: measured). `max_length` overrides the token budget the model was
        trained with (the default)."""
        if quantize not in (None, "int8"):
            raise PipelineInputError(f"quantize must be None or 'int8', got {quantize!r}")
        model_dir = _resolve(path_or_uri)
        config = read_pipeline_config(model_dir)
        if max_length is not None:
            if not isinstance(max_length, int) or max_length < 8:
                raise PipelineInputError(f"max_length must be an integer >= 8, got {max_length!r}")
            config = {**config, "max_length": max_length}
        if config.get("model_type") == "tfidf_logreg":
            if quantize:
                raise PipelineInputError("quantize='int8' applies to networks, not to tfidf_logreg")
            return cls(model_dir, config, tfidf_logreg.load(model_dir), None, "cpu")
        device = resolve_device(device) if device in ("auto", "cpu") else device  # or "cuda:1", "mps", ...
        if quantize and device != "cpu":
            raise PipelineInputError(f"quantize='int8' runs on the CPU; got device {device!r} (pass device='cpu')")
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            model = AutoModelForSequenceClassification.from_pretrained(model_dir)
        except (OSError, ValueError, SafetensorError) as err:
            raise PipelineInputError(f"{model_dir}: corrupted or incomplete model folder ({err})") from None
        model.to(device).eval()
        if quantize == "int8":
            model = quantize_int8(model)
        return cls(model_dir, config, model, tokenizer, device)

    # -- preparing text as the pipeline did ------------------------------------
    def _encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids as the pipeline built them: cleaned, tokenized in one batched
        call of the fast tokenizer, cut to the budget, special tokens added."""
        ids = self.tokenizer([clean_text(t) for t in texts], add_special_tokens=False, verbose=False)["input_ids"]
        head = self.config.get("head_fraction", 0.25)
        return [self._specials.prefix + truncate_ids(x, self._budget, self.config["truncation"], head)
                + self._specials.suffix for x in ids]

    def token_count(self, text: str) -> int:
        """How many tokens the model's tokenizer makes of `text` (before truncation)."""
        if self.tokenizer is None:
            return len(clean_text(text).split())
        return len(self.tokenizer(clean_text(text), add_special_tokens=False, verbose=False)["input_ids"])

    @property
    def token_budget(self) -> int | None:
        """How many of a review's tokens the model reads (max_length less the special
        tokens); None for tfidf_logreg, which reads it all."""
        return None if self.tokenizer is None else self._budget

    # -- prediction --------------------------------------------------------------
    def predict(self, text: str) -> Prediction:
        return self.predict_batch([text])[0]

    def predict_batch(self, texts: Sequence[str], batch_size: int | None = None,
                      progress: bool = False) -> list[Prediction]:
        """One Prediction per text, in input order. `batch_size` defaults to 8 on a
        CPU (bigger batches were slower there: README, Inference speed) and 64 on
        an accelerator."""
        if batch_size is None:
            batch_size = self.default_batch_size
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise PipelineInputError(f"batch_size must be a positive integer, got {batch_size!r}")
        texts = validate_texts(texts)
        if not texts:
            return []
        return [self._prediction(p) for p in self.predict_proba(texts, batch_size, progress)]

    @property
    def default_batch_size(self) -> int:
        return 8 if str(self.device) == "cpu" else 64

    def predict_proba(self, texts: list[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """P(positive) per (validated) text, in input order."""
        batch_size = batch_size or self.default_batch_size
        if self.model_type == "tfidf_logreg":
            return tfidf_logreg.predict_proba(self.model, [clean_text(t) for t in texts])
        prob_pos = np.empty(len(texts), dtype=np.float64)
        bar = tqdm(total=len(texts), desc="predict", unit="review", disable=not progress)
        with torch.inference_mode(), bar:
            for first in range(0, len(texts), CHUNK_TEXTS):
                encoded = self._encode(texts[first:first + CHUNK_TEXTS])
                # Longest first, so each batch pads to nearly its own length (the
                # pipeline's data collator pads to the longest of an unsorted batch).
                order = np.argsort([-len(ids) for ids in encoded], kind="stable")
                for start in range(0, len(order), batch_size):
                    rows = order[start:start + batch_size]
                    features = [{"input_ids": encoded[i], "attention_mask": [1] * len(encoded[i])} for i in rows]
                    batch = self.tokenizer.pad(features, return_tensors="pt")
                    batch = {k: v.to(self.device) for k, v in batch.items() if k in self._inputs}
                    logits = self.model(**batch).logits.float()
                    prob_pos[first + rows] = logits.softmax(dim=-1)[:, 1].cpu().numpy()
                    bar.update(len(rows))
        return prob_pos

    @staticmethod
    def _prediction(prob_pos: float) -> Prediction:
        scores = {LABEL_NAMES[0]: float(1.0 - prob_pos), LABEL_NAMES[1]: float(prob_pos)}
        label = LABEL_NAMES[1] if prob_pos >= 0.5 else LABEL_NAMES[0]
        return Prediction(label=label, confidence=scores[label], scores=scores)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization: nn.Linear with per-output-channel weight scales,
    nn.LSTM with PyTorch's default. Per-channel scales halve the error of one
    scale per tensor (MiniLM, 600 IMDB test reviews: 12 instead of 29 labels
    flipped against fp32) at the same speed. PyTorch's eager-mode API: it is
    deprecated in favour of torchao, which is not a dependency here; the warning
    it prints on import is silenced."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

        spec = {torch.nn.Linear: per_channel_dynamic_qconfig, torch.nn.LSTM: default_dynamic_qconfig}
        return quantize_dynamic(model, spec, dtype=torch.qint8)
