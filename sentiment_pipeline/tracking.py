"""MLflow: which store, one run per pipeline run, and the tags that tie a run
to its git commit, DVC experiment, data and base model.

Run identity: train tags its run with the sha256 of the model folder it wrote
(``model_sha256``); evaluate and plot find the run by hashing models/best. No
run id travels through a DVC output, so every output stays deterministic.

Store: ``MLFLOW_TRACKING_URI`` when set; otherwise the sqlite file ``mlflow.db``
at the repository root, with artifacts in ``mlartifacts/`` beside it. DVC runs
queued and ``--temp`` experiments in a temporary copy of the repository and
sets ``DVC_ROOT`` to the main repository there, so every experiment lands in
the same store that ``mlflow ui`` opens at the root.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
from filelock import FileLock
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sentiment_pipeline.config import Params, flatten
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.hashing import hash_tree

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"


def project_root() -> Path:
    """The main repository: DVC_ROOT inside a DVC stage, else the working directory."""
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI as the user set it, else the sqlite store at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / STORE_FILE}"


def use_store(uri: str) -> None:
    """Point MLflow's fluent API at `uri`, leaving MLFLOW_TRACKING_URI as it was: mlflow.set_tracking_uri
    writes it, and a later tracking_uri() would return our earlier choice (another workspace's
    store, when one process runs several) instead of the user's setting."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite URI, absolute. SQLAlchemy's form is
    sqlite:///<path>: the URL path minus its first slash is the file path
    ("sqlite:///rel.db" relative, "sqlite:////abs/m.db" absolute). Keeping that
    slash would give "//abs/...", a path POSIX keeps with two leading slashes,
    and artifact locations MLflow cannot serve models from."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    return Path(unquote(parsed.path)[1:]).resolve()


class StoreError(PipelineInputError):
    """The MLflow tracking store cannot be used (unreachable, read-only, corrupt)."""


def _read_only(db: Path) -> bool:
    """The store file, or the folder its journal and lock go into, cannot be written."""
    folder = next((p for p in (db.parent, *db.parent.parents) if p.exists()), None)
    return (db.exists() and not os.access(db, os.W_OK)) or (folder is not None and not os.access(folder, os.W_OK))


def _store_problem(uri: str, db: Path | None, err: Exception) -> str:
    reason = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
    if db is None:
        return (
            f"MLflow tracking server {uri} cannot be used ({reason}): start it, or unset MLFLOW_TRACKING_URI "
            "to log to mlflow.db in the project"
        )
    return (
        f"MLflow store {db} cannot be used ({reason}): if it is damaged, move it away (a new one is made), "
        "or set MLFLOW_TRACKING_URI to another store"
    )


def _get_or_create(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    """The experiment's id, made if new. Search workers started together on one server can
    both miss it and both create it: the loser's create fails, and the winner's is the answer."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException:
            if (experiment := client.get_experiment_by_name(name)) is None:
                raise
    return experiment.experiment_id


def prepare_experiment(name: str, uri: str | None = None) -> str:
    """Create the store (if new) and the experiment (if new); return its id.

    MLflow's schema creation and experiment creation race when several
    processes (``dvc queue start -j 2``) do them at once on a new sqlite file,
    so for a local store one process at a time does them, under a file lock.
    """
    uri = uri or tracking_uri()
    if urlparse(uri).scheme in ("http", "https"):
        # MLflow retries an unreachable server for minutes by default: a few seconds, then one line
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    use_store(uri)
    db = _sqlite_path(uri)
    if db is not None and _read_only(db):
        # MLflow reads a read-only store happily and fails only at the first write, after the training
        raise StoreError(
            f"MLflow store {db} is read-only: make it writable, or set MLFLOW_TRACKING_URI to another store"
        )
    lock = FileLock(f"{db}.lock") if db else None
    if lock:
        db.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=300)
    try:
        try:
            # a plain path: MLflow 3 turns "file:///abs" into host "abs" for sqlite stores
            return _get_or_create(MlflowClient(uri), name, str(db.parent / ARTIFACTS_DIR) if db else None)
        except Exception as err:  # MlflowException, requests' ConnectionError, SQLAlchemy's errors
            raise StoreError(_store_problem(uri, db, err)) from err
    finally:
        if lock:
            lock.release()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


GIT_COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's own tag for it (the UI's Source column)


def run_tags(params: Params, model_name: str) -> dict[str, str]:
    """Tags that say where a run came from: git commit, DVC experiment, data and model
    (`model_name`: the kind's label, models/kinds.py)."""
    commit = _git("rev-parse", "HEAD") or os.environ.get("DVC_EXP_BASELINE_REV")
    tags = {"model_type": params.model.type, "model_name": model_name, "pipeline": "dvc"}
    if commit:
        tags[GIT_COMMIT_TAG] = commit
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags["git_branch"] = branch
    for env, tag in (("DVC_EXP_NAME", "dvc_exp_name"), ("DVC_EXP_BASELINE_REV", "dvc_exp_baseline_rev")):
        if os.environ.get(env):
            tags[tag] = os.environ[env]
    return tags


def run_name(tags: dict[str, str]) -> str | None:
    """The DVC experiment's name, or `repro-<commit>` under plain `dvc repro`,
    so MLflow rows and DVC rows share names; None (MLflow's random name) only
    outside git."""
    if tags.get("dvc_exp_name"):
        return tags["dvc_exp_name"]
    commit = tags.get(GIT_COMMIT_TAG)
    if not commit:
        return None
    return f"repro-{commit[:7]}"


@contextmanager
def start_training_run(params: Params, model_name: str, run_id: str | None = None) -> Iterator[mlflow.ActiveRun]:
    """Open the MLflow run of one training: tags and every param (loss settings first).

    The run is named after the DVC experiment when there is one. `run_id` (an
    interrupted training being resumed) re-opens that run, when the store has it,
    so one training is one run however often it was restarted.
    """
    experiment_id = prepare_experiment(params.mlflow.experiment)
    if run_id is not None:
        try:
            MlflowClient(tracking_uri()).get_run(run_id)
        except MlflowException:
            run_id = None
    if run_id is not None:
        with mlflow.start_run(run_id=run_id) as run:
            mlflow.set_tag("resumed", "true")
            yield run
        return
    tags = run_tags(params, model_name)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name(tags), tags=tags) as run:
        mlflow.log_params(flatten(params))
        yield run


MODEL_TAG = "model_sha256"  # the content hash of the model folder a run wrote (hash_tree)
DATA_TAG = "data_sha256"  # the content hash of the tokenized data it trained on


def tag_training_outputs(model_dir: Path, data_dir: Path | None, metrics: dict) -> None:
    """Tag the active run with what it trained on and wrote: the data's and the
    model folder's content hashes, and the base model's provenance."""
    tags = {MODEL_TAG: hash_tree(model_dir)}
    if data_dir is not None:
        tags[DATA_TAG] = hash_tree(data_dir)
    for key, value in (metrics.get("base_model") or {}).items():
        if value is not None:
            tags[f"base_model.{key}"] = str(value)
    mlflow.set_tags(tags)


def find_training_run(model_dir: Path, experiment: str) -> str | None:
    """The id of the newest run of `experiment` that wrote exactly `model_dir`."""
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"{model_dir} not found: run the train stage first")
    experiment_id = prepare_experiment(experiment)  # creates a new store once, under its lock
    found = MlflowClient(tracking_uri()).search_runs(
        [experiment_id],
        filter_string=f"tags.{MODEL_TAG} = '{hash_tree(model_dir)}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return found[0].info.run_id if found else None


@contextmanager
def resume_run(model_dir: Path, experiment: str) -> Iterator[mlflow.ActiveRun | None]:
    """Re-open the run that trained `model_dir` (evaluate, plot add to it).

    Yields None, with a warning, when this store holds no such run (a fresh
    clone whose models/best was trained elsewhere): the stage's own outputs
    matter more than the log, and logging to no run would make MLflow start an
    unrelated one.
    """
    uri = tracking_uri()
    run_id = find_training_run(model_dir, experiment)
    if run_id is None:
        warnings.warn(
            f"no MLflow run in the store {uri} trained {model_dir} (tag {MODEL_TAG}); "
            "nothing is logged to MLflow. Rerun train (dvc repro -f -s train) to get a run here.",
            stacklevel=3,
        )
        yield None
        return
    with mlflow.start_run(run_id=run_id) as run:
        yield run


def log_history_row(kind: str, row: dict) -> None:
    """HistoryCallback listener: step rows at the global step, epoch rows at the epoch."""
    if kind == "step":
        values = {"train_loss_step": row["loss"], "learning_rate": row.get("learning_rate")}
        step = row["step"]
    else:
        values = {k: v for k, v in row.items() if k not in ("epoch", "step")}
        step = row["epoch"]
    mlflow.log_metrics({k: float(v) for k, v in values.items() if isinstance(v, (int, float))}, step=step)


def flatten_metrics(metrics: dict, sep: str = "_") -> dict:
    """{"by_length": {"q1": {"accuracy": .9}}} -> {"by_length_q1_accuracy": .9}"""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update({f"{key}{sep}{k}": v for k, v in flatten_metrics(value, sep).items()})
        else:
            out[key] = value
    return out


def log_metrics(metrics: dict, prefix: str = "") -> None:
    """Log the numeric entries of `metrics` (no step: final values), names prefixed."""
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in numbers.items()})


def log_train_summary(metrics: dict) -> None:
    """Final training metrics; the best epoch's validation scores as best_val_*,
    beside the per-epoch val_* curves; timings as timing_*."""
    log_metrics(flatten_metrics({f"best_{k}" if k.startswith("val_") else k: v for k, v in metrics.items()}))


def tag_model_version(name: str | None, version: int | None, metrics: dict) -> None:
    """Tag a registered model version with the test scores it was evaluated at."""
    if not name or not version:
        return
    client = MlflowClient(tracking_uri())
    for key in ("accuracy", "f1", "ece"):
        if isinstance(metrics.get(key), (int, float)):
            client.set_model_version_tag(name, str(version), f"test_{key}", f"{metrics[key]:.4f}")
