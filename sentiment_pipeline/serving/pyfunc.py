"""The MLflow pyfunc model: SentimentAnalyzer behind MLflow's model interface.

Logged as "models from code" (mlflow_model.log_and_register passes this file's
path): MLflow stores the file itself, not a pickled object, and the model
folder the train stage wrote travels as the artifact "model_dir". Served by
`mlflow models serve`, it answers /invocations with one row per review:

    {"dataframe_records": [{"text": "A wonderful film."}]}
    -> {"predictions": [{"label": "pos", "confidence": 0.93, "score_neg": 0.07, "score_pos": 0.93}]}

Bad input (no "text" column, a non-string, empty or over-long text) is
answered with MLflow's INVALID_PARAMETER_VALUE (HTTP 400) naming the problem;
the server stays up. So is a request of more than max_texts reviews: on a CPU,
100,000 reviews take many minutes, far past the scoring server's request
timeout, which would kill the worker mid-request. The limit is the server's,
never the request's: whoever starts it sets SENTIMENT_PIPELINE_MAX_TEXTS
(default MAX_TEXTS = 1,024) in its environment. The one request param,
batch_size, is capped at MAX_BATCH_SIZE. Bulk scoring belongs to
`python -m sentiment_pipeline predict --file` or `SentimentAnalyzer.predict_batch`,
which take any number.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext

from sentiment_pipeline.paths import TEXT

TEXT_COLUMN = TEXT  # the request's column: the data's own name
MAX_TEXTS = 1024  # per request, unless the server's environment sets MAX_TEXTS_ENV; see above
MAX_TEXTS_ENV = "SENTIMENT_PIPELINE_MAX_TEXTS"
MAX_BATCH_SIZE = 256
OUTPUT_COLUMNS = ["label", "confidence", "score_neg", "score_pos"]


def _texts(model_input) -> list:
    if isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN not in model_input.columns:
            raise MlflowException(
                f"input has no {TEXT_COLUMN!r} column (columns: {list(model_input.columns)})",
                error_code=INVALID_PARAMETER_VALUE,
            )
        return model_input[TEXT_COLUMN].tolist()
    if isinstance(model_input, (list, tuple)):
        return list(model_input)
    raise MlflowException(
        f"expected a DataFrame with a {TEXT_COLUMN!r} column or a list of texts, got {type(model_input).__name__}",
        error_code=INVALID_PARAMETER_VALUE,
    )


def server_max_texts() -> int:
    """The request limit of this server: SENTIMENT_PIPELINE_MAX_TEXTS, else MAX_TEXTS."""
    import os

    raw = os.environ.get(MAX_TEXTS_ENV)
    if raw is None:
        return MAX_TEXTS
    if not raw.isdigit() or int(raw) < 1:
        raise MlflowException(f"{MAX_TEXTS_ENV}={raw!r} is not a positive integer", error_code=INVALID_PARAMETER_VALUE)
    return int(raw)


class SentimentModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        from sentiment_pipeline.inference.analyzer import SentimentAnalyzer

        self.analyzer = SentimentAnalyzer.from_pretrained(context.artifacts["model_dir"])
        self.max_texts = server_max_texts()

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from sentiment_pipeline.errors import PipelineInputError

        params = params or {}
        batch_size = params.get("batch_size") or self.analyzer.default_batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise MlflowException(
                f"params.batch_size must be an integer in [1, {MAX_BATCH_SIZE}], got {batch_size!r}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        max_texts = self.max_texts
        texts = _texts(model_input)
        if len(texts) > max_texts:
            raise MlflowException(
                f"the request holds {len(texts):,} texts, more than this server's limit of {max_texts:,} "
                f"({MAX_TEXTS_ENV}): send them in smaller requests, or score in bulk with "
                "`python -m sentiment_pipeline predict --file`",
                error_code=INVALID_PARAMETER_VALUE,
            )
        try:
            predictions = self.analyzer.predict_batch(texts, batch_size=batch_size)
        except PipelineInputError as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from err
        return pd.DataFrame(
            [
                {
                    "label": p.label,
                    "confidence": p.confidence,
                    "score_neg": p.scores["neg"],
                    "score_pos": p.scores["pos"],
                }
                for p in predictions
            ],
            columns=OUTPUT_COLUMNS,
        )


mlflow.models.set_model(SentimentModel())
