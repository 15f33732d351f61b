"""The MLflow pyfunc model: SentimentAnalyzer behind MLflow's model interface.

Logged as "models from code" (mlflow_model.log_and_register passes this file's
path): MLflow stores the file itself, not a pickled object, and the model
folder the train stage wrote travels as the artifact "model_dir". Served by
`mlflow models serve`, it answers /invocations with one row per review:

    {"dataframe_records": [{"text": "A wonderful film."}]}
    -> {"predictions": [{"label": "pos", "confidence": 0.93, "score_neg": 0.07, "score_pos": 0.93}]}

Bad input (no "text" column, a non-string or empty text) is answered with
MLflow's INVALID_PARAMETER_VALUE (HTTP 400) naming the problem; the server
stays up. So is a request of more than `max_texts` reviews (a param, default
MAX_TEXTS = 1,024): on a CPU, 100,000 reviews take hours, far past the
scoring server's request timeout, which would kill the worker mid-request.
Bulk scoring belongs to `python -m sentiment_pipeline predict --file` or
`SentimentAnalyzer.predict_batch`, which take any number; a pyfunc caller
that wants it in one call passes params={"max_texts": N}.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

TEXT_COLUMN = "text"
MAX_TEXTS = 1024  # per request; see above
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


class SentimentModel(PythonModel):
    def load_context(self, context) -> None:
        from sentiment_pipeline.inference.analyzer import SentimentAnalyzer

        self.analyzer = SentimentAnalyzer.from_pretrained(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        from sentiment_pipeline.errors import PipelineInputError

        params = params or {}
        batch_size = int(params.get("batch_size") or self.analyzer.default_batch_size)
        max_texts = int(params.get("max_texts", MAX_TEXTS))
        texts = _texts(model_input)
        if len(texts) > max_texts:
            raise MlflowException(
                f"the request holds {len(texts):,} texts, more than max_texts={max_texts:,}: "
                "send them in smaller requests, or score in bulk with "
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
