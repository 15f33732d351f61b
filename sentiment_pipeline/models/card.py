"""The model card: models/best/README.md, the Hugging Face way.

`huggingface_hub`'s ModelCardData renders the metadata block (with the
`model-index` results the Hub shows and its leaderboards read); the body says
what the model is, what it was trained on, the loss settings, the temperature,
the intended use and the limits. Every figure comes from the metrics dicts the
stages write to metrics/ (no timings: a rerun writes the same card byte for
byte). Train writes the card with the validation results; evaluate writes the
same card with the test results too as reports/model_card.md (models/best is
train's output, which evaluate must not change).
"""

from __future__ import annotations

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from sentiment_pipeline.config import Params
from sentiment_pipeline.models import kinds
from sentiment_pipeline.paths import LABEL_NAMES

DATASET = ("IMDB (Large Movie Review Dataset)", "stanfordnlp/imdb")
REPORTED = (("accuracy", "Accuracy"), ("f1", "F1"), ("roc_auc", "ROC AUC"), ("log_loss", "Log loss"))


def _results(metrics: dict, split: str, prefix: str = "") -> list[EvalResult]:
    return [
        EvalResult(
            task_type="text-classification",
            task_name="Sentiment analysis",
            dataset_name=DATASET[0],
            dataset_type=DATASET[1],
            dataset_split=split,
            metric_type=key,
            metric_name=name,
            metric_value=round(float(metrics[f"{prefix}{key}"]), 4),
        )
        for key, name in REPORTED
        if metrics.get(f"{prefix}{key}") is not None
    ]


def render(params: Params, train_metrics: dict, test_metrics: dict | None = None, name: str = "imdb-sentiment") -> str:
    """The card's text: metadata (model-index: validation, and test when given) and body."""
    base = train_metrics.get("base_model") or {}
    results = _results(train_metrics, "validation", "val_")
    if test_metrics:
        results = _results(test_metrics, "test") + results
    data = ModelCardData(
        language="en",
        library_name=kinds.get(params.model.type).card_library,
        pipeline_tag="text-classification",
        tags=["sentiment-analysis", "imdb", "dvc", "mlflow", params.model.type],
        datasets=[DATASET[1]],
        base_model=base.get("name") if base.get("source") == "hub" else None,
        model_name=name,
        eval_results=results,
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{_body(params, train_metrics, test_metrics, base)}"))


def _body(params: Params, train: dict, test: dict | None, base: dict) -> str:
    loss, tok = params.train.loss, params.tokenize
    started = (
        f"`{base['name']}` ({base.get('package') or base.get('revision') or base.get('source')}, "
        f"weights sha256 `{base.get('weights_sha256')}`)"
        if base
        else "scratch"
    )
    scores = (
        f"test accuracy {test['accuracy']:.4f}, F1 {test['f1']:.4f} on {test['n_examples']:,} reviews; " if test else ""
    )
    lines = [
        f"# {params.model.type} sentiment classifier for movie reviews",
        "",
        f"Labels: {', '.join(f'{i} = {n}' for i, n in enumerate(LABEL_NAMES))}. {scores}"
        f"validation accuracy {train['val_accuracy']:.4f} on {train['n_validation']:,} reviews.",
        "",
        "## Training",
        f"- Started from {started}; {train['n_train']:,} training reviews from `{params.data.source}` "
        f"(seed {params.data.seed}), {train['epochs_run']} epoch(s), "
        f"best epoch {train['best_epoch']} by validation F1.",
        f"- Input: at most {tok.max_length} tokens, truncation `{tok.truncation}`.",
        f"- Loss: cross-entropy weighted by review length and a confident-mistake penalty, "
        f"`length_weight={loss.length_weight}`, `confidence_penalty={loss.confidence_penalty}`.",
        f"- Temperature {train['temperature']} (fitted on validation): divide the log-odds by it "
        "for calibrated probabilities; the project's predictors do.",
        "",
        "## Intended use and limits",
        "- Positive or negative sentiment of English movie reviews like IMDB's (a few sentences to a few pages).",
        "- Not for other domains, languages, neutral or mixed opinions, or decisions about people "
        "without a human check; its most confident errors are listed in the project's reports/errors.md.",
        f"- Reviews longer than {tok.max_length} tokens are cut; accuracy by length is in reports/length_buckets.csv.",
        "- Load it with `SentimentAnalyzer.from_pretrained(<folder>)`, which reads sentiment_pipeline.json "
        "(cleaning, truncation, temperature); the folder runs no code.",
        "",
    ]
    return "\n".join(lines)
