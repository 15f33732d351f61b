"""The MLflow pyfunc model: SentimentAnalyzer behind MLflow's model interface.

Logged as "models from code" (mlflow_model.log_and_register passes this file's
path): MLflow stores the file itself, not a pickled object, and the model
folder the train stage wrote travels as the artifact "model_dir". Served by
`mlflow models serve`, it answers /invocations with one row per review:

    {"dataframe_records": [{"text": "A wonderful film."}]}
    -> {"predictions": [{"label": "pos", "confidence": 0.93, "score_neg": 0.07, "score_pos": 0.93}]}

Bad input (no "text" column, a non-string or empty text) is answered with
MLflow's INVALID_PARAMETER_VALUE (HTTP 400) naming the problem; the server
stays up.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

TEXT_COLUMN = "text"
OUTPUT_COLUMNS = ["label", "confidence", "score_neg", "score_pos"]


def _texts(model_input) -> list:
    if isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN not in model_input.columns:
            raise MlflowException(f"input has no {TEXT_COLUMN!r} column (columns: {list(model_input.columns)})",
                                  error_code=INVALID_PARAMETER_VALUE)
        return model_input[TEXT_COLUMN].tolist()
    if isinstance(model_input, (list, tuple)):
        return list(model_input)
    raise MlflowException(f"expected a DataFrame with a {TEXT_COLUMN!r} column or a list of texts, "
                          f"got {type(model_input).__name__}", error_code=INVALID_PARAMETER_VALUE)


class SentimentModel(PythonModel):
    def load_context(self, context) -> None:
        from sentiment_pipeline.analyzer import SentimentAnalyzer

        self.analyzer = SentimentAnalyzer.from_pretrained(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        from sentiment_pipeline.errors import PipelineInputError

        batch_size = int((params or {}).get("batch_size", 32))
        try:
            predictions = self.analyzer.predict_batch(_texts(model_input), batch_size=batch_size)
        except PipelineInputError as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None
        return pd.DataFrame([{"label": p.label, "confidence": p.confidence, "score_neg": p.scores["neg"],
                              "score_pos": p.scores["pos"]} for p in predictions], columns=OUTPUT_COLUMNS)


mlflow.models.set_model(SentimentModel())
