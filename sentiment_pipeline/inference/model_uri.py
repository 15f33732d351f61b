"""Where a model is: a local model folder, or an MLflow model URI (models:/, runs:/),
resolved in one place for the analyzer, the CLI, the demo and the pyfunc.

It lives with inference rather than serving because the analyzer, a library
API, takes URIs too; serving/ only passes them on.
"""

from __future__ import annotations

from pathlib import Path

from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.models.artifact import CONFIG_FILE

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


def is_mlflow_uri(path_or_uri: str | Path) -> bool:
    return str(path_or_uri).startswith(MLFLOW_SCHEMES)


def resolve_model_uri(path_or_uri: str | Path) -> Path:
    """A local model folder: the path itself, or an MLflow model downloaded from its URI."""
    text = str(path_or_uri)
    if text.startswith(MLFLOW_SCHEMES):
        import mlflow

        from sentiment_pipeline import tracking

        tracking.use_store(tracking.tracking_uri())
        try:
            local = Path(mlflow.artifacts.download_artifacts(text))
        except Exception as err:  # MlflowException, or an unknown scheme/registry entry
            raise PipelineInputError(f"cannot load MLflow model {text!r}: {err}") from err
        found = [p.parent for p in local.rglob(CONFIG_FILE)]
        if not found:
            raise PipelineInputError(f"MLflow model {text!r} holds no model folder of this pipeline")
        return found[0]
    path = Path(text).expanduser()
    if not path.is_dir():
        raise PipelineInputError(f"model path {text!r} does not exist or is not a folder")
    return path
