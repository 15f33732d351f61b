"""Logging the trained model as an MLflow model and registering it.

The pyfunc (pyfunc.py) is logged from code, with the model folder as
an artifact and this package as code, a signature (a string column "text" in;
label, confidence and both scores out) and an input example; then registered
under `mlflow.registered_model` as a new version. `mlflow models serve -m
models:/<name>/<version> --env-manager local` serves it.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

ARTIFACT_NAME = "model"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # sentiment_pipeline/, logged as the model's code
INPUT_EXAMPLE = pd.DataFrame(
    {"text": ["A wonderful, moving film with a superb cast.", "Dull, far too long, and the ending makes no sense."]}
)
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "text")]),
    outputs=Schema(
        [
            ColSpec("string", "label"),
            ColSpec("double", "confidence"),
            ColSpec("double", "score_neg"),
            ColSpec("double", "score_pos"),
        ]
    ),
    # batch_size only: the request limit is the server's (pyfunc.MAX_TEXTS_ENV), never a request param
    params=ParamSchema([ParamSpec("batch_size", "long", 0)]),
)


def log_and_register(model_dir: Path, registered_name: str | None) -> ModelInfo:
    """Log `model_dir` to the active run as a pyfunc model; register it when a name is given."""
    return mlflow.pyfunc.log_model(
        name=ARTIFACT_NAME,
        python_model=str(PACKAGE_DIR / "serving" / "pyfunc.py"),  # models from code: no pickle
        artifacts={"model_dir": str(model_dir)},
        code_paths=[str(PACKAGE_DIR)],  # the package travels with the model
        signature=SIGNATURE,
        input_example=INPUT_EXAMPLE,
        registered_model_name=registered_name or None,
        pip_requirements=_requirements(),
    )


def _requirements() -> list[str]:
    """The pinned requirements the model needs at serving time (from requirements.txt when there)."""
    path = PACKAGE_DIR.parent / "requirements.txt"
    wanted = ("torch", "transformers", "tokenizers", "safetensors", "scikit-learn", "numpy", "pandas", "mlflow")
    if not path.is_file():
        return list(wanted)
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and line.split("==")[0].lower() in wanted]
