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

import os
import subprocess
from pathlib import Path

from sentiment_pipeline import tracking
from sentiment_pipeline.config import Params, read_yaml
from sentiment_pipeline.data.encoding import check_max_length, load_tokenizer
from sentiment_pipeline.data.loading import check_dataset_folder, check_hub_dataset
from sentiment_pipeline.data.sources import check_local, is_local
from sentiment_pipeline.device import resolve_device
from sentiment_pipeline.models.build import check_dropouts
from sentiment_pipeline.precision import resolve_precision

VALID = {"params": "valid"}  # the validate stage's output: constant, so it reruns nothing after it


def params_changed_since_head(path: Path = Path("params.yaml")) -> list[str]:
    """The dotted params in which the workspace's params.yaml differs from git HEAD's
    (empty outside git, in DVC's temporary experiment copies, or when unreadable)."""
    root = os.environ.get("DVC_ROOT")
    if root and Path(root).resolve() != Path.cwd().resolve():
        return []  # a queued or --temp experiment: its params differ from HEAD by design
    try:
        head = subprocess.run(
            ["git", "show", f"HEAD:{path}"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
        old, new = _flat(read_yaml(head)), _flat(read_yaml(path.read_text()))
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return []
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in (tree or {}).items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_params(params: Params) -> None:
    """Raise the PipelineInputError a later stage would have raised, now."""
    if is_local(params.data.source):
        check_dataset_folder(Path(check_local(params.data.source, "data.source")))
    else:  # a Hub id: offline, only a copy in the datasets cache loads
        check_hub_dataset(params.data.source, params.data.revision)
    resolve_precision(params.train.precision, resolve_device(params.train.device))
    if params.model.type == "transformer":
        check_max_length(params.model.name, load_tokenizer(params.model.name), params.tokenize.max_length)
        check_dropouts(params.model)
    tracking.prepare_experiment(params.mlflow.experiment)
