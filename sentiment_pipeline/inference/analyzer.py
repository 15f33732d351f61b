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
predicted `models.network.CHUNK_TEXTS` at a time (memory stays bounded: 100,000 reviews need
no more than 4,096 do), `batch_size` per forward pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sentiment_pipeline.data.text import MAX_TEXT_CHARS, clean_text, readable
from sentiment_pipeline.device import check_device, resolve_device
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.evaluation.calibration import probabilities
from sentiment_pipeline.inference.model_uri import resolve_model_uri
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.models.kinds import LoadedModel, load
from sentiment_pipeline.paths import NEG, POS
from sentiment_pipeline.precision import resolve_precision

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Prediction:
    label: str  # NEG or POS
    confidence: float  # probability of `label`
    scores: dict[str, float]  # probability of each class

    def to_dict(self) -> dict:
        return asdict(self)


def validate_texts(texts: Sequence) -> list[str]:
    """The texts as a list of str; a clear error for anything else (a mapping or a
    set too: their order, or what is the text, is not the caller's list)."""
    if isinstance(texts, (str, bytes, Mapping, Set)) or not isinstance(texts, Iterable):
        raise PipelineInputError(f"expected a list of texts, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise PipelineInputError(f"text {i} is a {type(text).__name__}, not a string")
        if len(text) > MAX_TEXT_CHARS:
            raise PipelineInputError(
                f"text {i} has {len(text):,} characters, more than the limit of {MAX_TEXT_CHARS:,}: "
                "it is not one review"
            )
        if not text.strip():
            raise PipelineInputError(f"text {i} is empty or whitespace only: nothing to classify")
        if not readable(text):
            raise PipelineInputError(
                f"text {i} is empty after cleaning (only HTML tags or invisible characters): nothing to classify"
            )
    return texts


class SentimentAnalyzer:
    def __init__(self, model_dir: Path, loaded: LoadedModel, device: str, precision: str = "fp32") -> None:
        self.model_dir = model_dir
        self.loaded = loaded
        self.artifact: ModelArtifact = loaded.artifact
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.device = device
        self.precision = precision  # fp32 | bf16 | fp16: the autocast of each forward pass
        self.model_type = self.artifact.model_type
        self.kind = loaded.kind
        self.encoder = loaded.encoder  # texts -> the token ids the model reads (None: the kind reads text)

    @classmethod
    def from_pretrained(
        cls,
        path_or_uri: str | Path,
        device: str = "auto",
        quantize: str | None = None,
        max_length: int | None = None,
        precision: str = "auto",
    ) -> SentimentAnalyzer:
        """Load a model folder the train stage wrote (`models/best`), or an MLflow
        model URI (`models:/<name>/<version>`, `runs:/<run_id>/model`).

        `precision`: auto (bf16 autocast where the hardware has it: a GPU, or a
        CPU with AMX / AVX512-BF16; else fp32), fp32, bf16 or fp16 (GPU).
        `quantize="int8"` (CPU, networks only): dynamic int8 quantization of the
        linear (and LSTM) layers, weights stored as int8 and activations quantized
        on the fly; faster on a CPU without bf16 units, at a small accuracy cost
        (docs/using-the-model.md); it runs in fp32.
        `max_length` overrides the token budget the model was trained with (the default)."""
        if quantize not in (None, "int8"):
            raise PipelineInputError(f"quantize must be None or 'int8', got {quantize!r}")
        if max_length is not None and (not isinstance(max_length, int) or max_length < 8):
            raise PipelineInputError(f"max_length must be an integer >= 8, got {max_length!r}")
        if precision not in PRECISIONS:
            raise PipelineInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if quantize and precision not in ("auto", "fp32"):
            raise PipelineInputError(f"quantize='int8' runs in fp32; got precision {precision!r}")
        device = resolve_device(device) if device in ("auto", "cpu") else device  # or "cuda:1", "mps", ...
        if quantize and device != "cpu":
            raise PipelineInputError(f"quantize='int8' runs on the CPU; got device {device!r} (pass device='cpu')")
        check_device(device)
        dtype = "fp32" if quantize else resolve_precision(precision, device, setting="precision").dtype
        model_dir = resolve_model_uri(path_or_uri)
        loaded = load(model_dir, max_length)
        device = loaded.kind.place(loaded, device, quantize)
        return cls(model_dir, loaded, device, dtype)

    def token_count(self, text: str) -> int:
        """How many tokens the model's tokenizer makes of `text` (before truncation)."""
        return self.kind.count_tokens(self.loaded, clean_text(text))

    @property
    def token_budget(self) -> int | None:
        """How many of a review's tokens the model reads (max_length less the special
        tokens); None for a kind that reads it all (TF-IDF)."""
        return self.kind.token_budget(self.loaded)

    # -- prediction --------------------------------------------------------------
    def predict(self, text: str) -> Prediction:
        return self.predict_batch([text])[0]

    def predict_batch(
        self, texts: Sequence[str], batch_size: int | None = None, progress: bool = False
    ) -> list[Prediction]:
        """One Prediction per text, in input order. `batch_size` defaults to 16 on a
        CPU (the fastest there, in bf16 and fp32: bench/speed.py) and 64 on an
        accelerator."""
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
        return 16 if str(self.device) == "cpu" else 64

    def predict_proba(self, texts: list[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """P(positive) per (validated) text, in input order: cleaned and encoded as
        in training, then the kind's prediction core, `CHUNK_TEXTS` texts at a time (memory
        stays bounded however many there are), then the model's temperature."""
        return probabilities(self.margins(texts, batch_size, progress), self.artifact.temperature)

    def margins(self, texts: list[str], batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """The log-odds per (validated) text, before temperature scaling."""
        batch_size = batch_size or self.default_batch_size
        cleaned = [clean_text(t) for t in texts]
        return self.kind.margins(self.loaded, cleaned, batch_size, self.device, self.precision, progress)

    @staticmethod
    def _prediction(prob_pos: float) -> Prediction:
        scores = {NEG: float(1.0 - prob_pos), POS: float(prob_pos)}
        label = POS if prob_pos >= 0.5 else NEG
        return Prediction(label=label, confidence=scores[label], scores=scores)
