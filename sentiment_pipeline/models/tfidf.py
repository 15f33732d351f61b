"""model.type=tfidf_logreg, the model: TF-IDF + logistic regression as plain arrays.

scikit-learn does the work (TfidfVectorizer with word 1-2 grams and sublinear
tf, LogisticRegression with L2 strength 1/C). Fitting it with the custom loss
is models/tfidf_kind.py's job. What is written here: saving without
pickle, as plain arrays: the vocabulary as a JSON list of terms (index order),
idf, coefficients and intercept as safetensors, the settings as JSON. (skops
would also avoid pickle, but it writes the vocabulary dict entry by entry:
tens of MB for a 2,000-review model, against about 1 MB here, and seconds to
load.) Loading rebuilds the scikit-learn objects from those arrays; nothing in
the folder can run code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sentiment_pipeline.config import Params
from sentiment_pipeline.errors import PipelineInputError

VOCABULARY_FILE = "vocabulary.json"
WEIGHTS_FILE = "tfidf_logreg.safetensors"
SETTINGS_FILE = "tfidf_logreg.json"
MODEL_FILES = (VOCABULARY_FILE, WEIGHTS_FILE, SETTINGS_FILE)
VECTORIZER_SETTINGS = (
    "ngram_range",
    "sublinear_tf",
    "min_df",
    "max_features",
    "lowercase",
    "norm",
    "use_idf",
    "smooth_idf",
    "analyzer",
    "token_pattern",
    "strip_accents",
)


def build_pipeline(params: Params) -> Pipeline:
    cfg = params.model.tfidf_logreg
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    min_df=cfg.min_df,
                    max_features=cfg.max_features,
                    lowercase=True,
                    dtype=np.float32,
                ),
            ),
            ("logreg", LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, random_state=params.train.seed)),
        ]
    )


def predict_proba(model: Pipeline, texts: list[str]) -> np.ndarray:
    return model.predict_proba(list(texts))[:, 1]


def margins(model: Pipeline, texts: list[str]) -> np.ndarray:
    """The log-odds of the positive class (what sigmoid turns into predict_proba)."""
    return np.asarray(model.decision_function(list(texts)), dtype=np.float64)


def n_parameters(model: Pipeline) -> int:
    logreg = model.named_steps["logreg"]
    return int(logreg.coef_.size + logreg.intercept_.size)


def save(model: Pipeline, output_dir: Path) -> None:
    """The fitted pipeline as plain arrays and JSON (see the module docstring)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    vectorizer, logreg = model.named_steps["tfidf"], model.named_steps["logreg"]
    terms = [term for term, _ in sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])]
    (output_dir / VOCABULARY_FILE).write_text(json.dumps(terms, ensure_ascii=False))
    # each array in its own dtype (float32 features give float32 coefficients): loading gives the same model
    save_file(
        {
            "idf": np.ascontiguousarray(vectorizer.idf_),
            "coef": np.ascontiguousarray(logreg.coef_),
            "intercept": np.ascontiguousarray(logreg.intercept_),
            "classes": np.asarray(logreg.classes_, dtype=np.int64),
        },
        str(output_dir / WEIGHTS_FILE),
    )
    settings = {
        "vectorizer": {k: vectorizer.get_params()[k] for k in VECTORIZER_SETTINGS},
        "logreg": {"C": logreg.C, "max_iter": logreg.max_iter},
    }
    settings["vectorizer"]["dtype"] = np.dtype(vectorizer.dtype).name
    (output_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")


def _written_settings() -> dict:
    """The vectorizer settings this project writes that never vary (build_pipeline
    owns them); min_df, max_features and dtype vary and are checked by type."""
    vectorizer = build_pipeline(Params()).named_steps["tfidf"].get_params()
    return {k: vectorizer[k] for k in VECTORIZER_SETTINGS if k not in ("min_df", "max_features")} | {
        "ngram_range": list(vectorizer["ngram_range"])
    }


def _is_int(value, low: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def check_settings(settings, path: Path) -> None:
    """A model folder is data: tfidf_logreg.json may hold only the settings `save`
    writes, with values this project uses. Anything else (e.g. the vectorizer's
    input="filename", which would make it open files named by the text) is refused."""
    if not isinstance(settings, dict) or set(settings) != {"vectorizer", "logreg"}:
        raise PipelineInputError(f"{path}: expected the keys vectorizer and logreg only")
    vectorizer, logreg = settings["vectorizer"], settings["logreg"]
    allowed = {*VECTORIZER_SETTINGS, "dtype"}
    if not isinstance(vectorizer, dict) or set(vectorizer) != allowed:
        extra = sorted(set(vectorizer) - allowed) if isinstance(vectorizer, dict) else vectorizer
        raise PipelineInputError(f"{path}: vectorizer settings {extra} are not the ones this pipeline writes")
    for key, expected in _written_settings().items():
        if vectorizer[key] != expected:
            raise PipelineInputError(f"{path}: vectorizer {key}={vectorizer[key]!r} is not {expected!r}, refused")
    if not _is_int(vectorizer["min_df"]) or not (
        vectorizer["max_features"] is None or _is_int(vectorizer["max_features"])
    ):
        raise PipelineInputError(f"{path}: vectorizer min_df / max_features must be positive integers")
    if vectorizer["dtype"] not in ("float32", "float64"):
        raise PipelineInputError(f"{path}: vectorizer dtype {vectorizer['dtype']!r} is not float32 or float64")
    if not isinstance(logreg, dict) or set(logreg) != {"C", "max_iter"}:
        raise PipelineInputError(f"{path}: logreg settings must be C and max_iter only")
    C = logreg["C"]
    if (
        isinstance(C, bool)
        or not isinstance(C, (int, float))
        or not 0 < C < float("inf")
        or not _is_int(logreg["max_iter"])
    ):
        raise PipelineInputError(f"{path}: logreg C must be a positive number and max_iter a positive integer")


def load(model_dir: Path) -> Pipeline:
    """The pipeline `save` wrote, rebuilt from its arrays (its settings checked first)."""
    model_dir = Path(model_dir)
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise PipelineInputError(
            f"{model_dir} is not a complete tfidf_logreg model folder (missing {', '.join(missing)})"
        )
    try:
        terms = json.loads((model_dir / VOCABULARY_FILE).read_text())
        settings = json.loads((model_dir / SETTINGS_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PipelineInputError(f"{model_dir}: corrupted tfidf_logreg model ({err})") from err
    check_settings(settings, model_dir / SETTINGS_FILE)
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise PipelineInputError(f"{model_dir / VOCABULARY_FILE}: not a list of terms")
    try:
        arrays = load_file(str(model_dir / WEIGHTS_FILE))
        vector_settings = dict(settings["vectorizer"])
        vector_settings["ngram_range"] = tuple(vector_settings["ngram_range"])
        vector_settings["dtype"] = np.dtype(vector_settings["dtype"])
        vectorizer = TfidfVectorizer(**vector_settings)
        vectorizer.vocabulary_ = {term: i for i, term in enumerate(terms)}
        vectorizer.idf_ = arrays["idf"]  # scikit-learn's setter: checks it against the vocabulary
        logreg = LogisticRegression(**settings["logreg"])
        logreg.coef_, logreg.intercept_, logreg.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
        if logreg.coef_.shape != (1, len(terms)):
            raise ValueError(f"coef has shape {logreg.coef_.shape}, the vocabulary {len(terms)} terms")
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise PipelineInputError(f"{model_dir}: corrupted tfidf_logreg model ({err})") from err
    return Pipeline([("tfidf", vectorizer), ("logreg", logreg)])
