"""The web demo: `python -m sentiment_pipeline demo` (Gradio).

A text box for a review, example reviews, the predicted sentiment with a
probability bar for negative and positive (Gradio's Label component), and a
header naming the model and its test accuracy:

- a registered MLflow model (`--model models:/imdb-sentiment/2`): its name and
  version, and the test scores the evaluate stage tagged it with;
- a model folder (default `models/best`): the folder, its type and base model,
  and the accuracy in `--metrics` (default `metrics/eval.json`, read only when
  the model is the workspace's own `models/best`, which that file scores).

An empty review is answered with an error message in the page (nothing to
classify); a review longer than the model's token budget is classified on the
part the model reads, as in training, and the page says how much that was.
The app binds to 127.0.0.1 unless --host says otherwise, and sends nothing
anywhere (Gradio's analytics are switched off).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sentiment_pipeline import paths
from sentiment_pipeline.data.text import readable
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from sentiment_pipeline.inference.model_uri import is_mlflow_uri

DISPLAY = {"neg": "negative", "pos": "positive"}
EXAMPLES = [
    "One of the best films I have seen in years. The cast is superb, the script is sharp and funny, "
    "and the ending moved me to tears.",
    "Two hours I will never get back. The plot makes no sense, the acting is wooden and the jokes fall flat.",
    "It starts slowly and the middle drags, but the last half hour is gripping and the lead is wonderful.",
    "I wanted to like it: the photography is beautiful. But the story is dull and far too long.",
]


@dataclass(frozen=True)
class ModelCard:
    name: str
    test_accuracy: float | None
    source: str  # where the accuracy comes from

    def markdown(self) -> str:
        accuracy = (
            f"**test accuracy {self.test_accuracy:.2%}** ({self.source})"
            if self.test_accuracy is not None
            else f"test accuracy not known ({self.source})"
        )
        return f"Model: **{self.name}** · {accuracy}"


def describe_model(model: str, analyzer: SentimentAnalyzer, metrics: Path | None) -> ModelCard:
    """The model's display name and test accuracy (see the module docstring)."""
    if is_mlflow_uri(model):
        return _registry_card(model)
    base = analyzer.artifact.source_model
    base = "/".join(Path(base).parts[-2:]) if base else "?"
    started = analyzer.artifact.base_model is not None  # fine-tuned from pretrained weights
    name = f"{model} ({analyzer.model_type}" + (f", from {base})" if started else ")")
    if metrics is None and Path(model) == paths.MODEL_DIR and paths.EVAL_METRICS.is_file():
        metrics = paths.EVAL_METRICS
    if metrics is None:
        return ModelCard(name, None, "pass --metrics with the evaluate stage's eval.json")
    try:
        accuracy = json.loads(Path(metrics).read_text())["accuracy"]
    except (OSError, ValueError, KeyError) as err:
        raise PipelineInputError(f"cannot read the test accuracy from {metrics}: {err}") from err
    return ModelCard(name, float(accuracy), str(metrics))


def _registry_card(uri: str) -> ModelCard:
    """models:/<name>/<version> or models:/<name>@<alias>: the version's test_accuracy tag."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from sentiment_pipeline import tracking

    ref = uri.removeprefix("models:/")
    try:
        client = MlflowClient(tracking.tracking_uri())
        if "@" in ref:
            name, alias = ref.split("@", 1)
            version = client.get_model_version_by_alias(name, alias)
        elif "/" in ref and ref.rsplit("/", 1)[1].isdigit():
            name, number = ref.rsplit("/", 1)
            version = client.get_model_version(name, number)
        else:
            return ModelCard(uri, None, "not a registered version")
    except MlflowException:
        return ModelCard(uri, None, "no such registered version")
    accuracy = version.tags.get("test_accuracy")
    return ModelCard(
        f"{version.name} v{version.version}",
        float(accuracy) if accuracy else None,
        "MLflow model registry" if accuracy else "the version has no test_accuracy tag",
    )


def build_app(analyzer: SentimentAnalyzer, card: ModelCard):
    """The Gradio Blocks app around `analyzer`."""
    import gradio as gr

    def classify(text: str):
        if not isinstance(text, str) or not text.strip():
            raise gr.Error("Enter a review first: the text is empty, there is nothing to classify.")
        if not readable(text):
            raise gr.Error("The review holds only HTML tags or invisible characters: there is nothing to classify.")
        try:
            prediction = analyzer.predict(text)
        except PipelineInputError as err:
            raise gr.Error(str(err)) from err
        scores = {DISPLAY[k]: v for k, v in prediction.scores.items()}
        return scores, _reading_note(analyzer, text)

    with gr.Blocks(title="IMDB sentiment") as app:
        gr.Markdown("# Movie review sentiment")
        gr.Markdown(card.markdown(), elem_id="model-card")
        with gr.Row():
            with gr.Column(scale=3):
                review = gr.Textbox(
                    label="Review", lines=8, placeholder="Paste or type a movie review", elem_id="review"
                )
                with gr.Row():
                    gr.ClearButton(review, value="Clear")
                    submit = gr.Button("Classify", variant="primary", elem_id="classify")
            with gr.Column(scale=2):
                label = gr.Label(label="Sentiment", num_top_classes=2, elem_id="sentiment")
                note = gr.Markdown(elem_id="reading-note")
        gr.Examples(EXAMPLES, inputs=review, label="Example reviews")
        submit.click(classify, inputs=review, outputs=[label, note])
        review.submit(classify, inputs=review, outputs=[label, note])
    return app


def _reading_note(analyzer: SentimentAnalyzer, text: str) -> str:
    """How much of the review the model read."""
    n_tokens = analyzer.token_count(text)
    budget = analyzer.token_budget
    if budget is None:
        return f"The model read all {n_tokens:,} words."
    if n_tokens <= budget:
        return f"The model read the whole review ({n_tokens:,} tokens)."
    how = {"head": "its beginning", "tail": "its end", "head_tail": "its beginning and end"}
    return (
        f"Long review: {n_tokens:,} tokens. The model read {how.get(analyzer.artifact.truncation, 'part')}, "
        f"about {budget:,} tokens, as in training."
    )


def serve(model: str, metrics: Path | None, host: str, port: int, device: str, precision: str = "auto") -> None:
    """Load the model, then serve the app until interrupted."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if metrics is not None and not Path(metrics).is_file():
        raise PipelineInputError(f"--metrics {metrics} is not a file")
    analyzer = SentimentAnalyzer.from_pretrained(model, device=device, precision=precision)
    card = describe_model(model, analyzer, metrics)
    print(f"{card.markdown().replace('**', '')}", flush=True)
    build_app(analyzer, card).launch(server_name=host, server_port=port, share=False, inbrowser=False, show_error=True)
