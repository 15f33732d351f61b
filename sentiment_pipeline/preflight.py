"""Every setting checked before any stage's outputs are touched (the validate stage).

DVC deletes a stage's outputs just before it runs the stage, so a bad param
that only the train stage noticed used to cost the committed model and
metrics. The validate stage runs first and every other stage depends on its
constant output: it reruns whenever a param changes, and on a bad one DVC stops
there, with every output in place. It checks what can be checked in seconds:
the schema, the device and precision, that data.source and model.name load (and
a model folder would not run code), max_length against the model's positions,
the dropouts against the model's architecture,
and that the MLflow store answers (creating a new sqlite store once, up front).
"""

from __future__ import annotations

from pathlib import Path

from sentiment_pipeline import tracking
from sentiment_pipeline.config import Params
from sentiment_pipeline.data.loading import check_dataset_folder, check_hub_dataset
from sentiment_pipeline.data.sources import check_local, is_local
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.models import kinds
from sentiment_pipeline.precision import resolve_precision

VALID = {"params": "valid"}  # the validate stage's output: constant, so it reruns nothing after it


def check_params(params: Params) -> None:
    """Raise the PipelineInputError a later stage would have raised, now."""
    if is_local(params.data.source):
        check_dataset_folder(Path(check_local(params.data.source, "data.source")))
    else:  # a Hub id: offline, only a copy in the datasets cache loads
        check_hub_dataset(params.data.source, params.data.revision)
    resolve_precision(params.train.precision, resolve_device(params.train.device))
    kinds.get(params.model.type).check(params)  # a model.type no kind has: its one line
    tracking.prepare_experiment(params.mlflow.experiment)
