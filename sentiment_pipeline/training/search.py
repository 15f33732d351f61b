"""Hyperparameter search: an Optuna study over `search.space`, maximising
validation F1, every trial an MLflow run nested under one parent run.

Optuna does the search (TPE sampler, seeded), the pruning (MedianPruner: a
trial whose validation F1 after an epoch is below the median of earlier trials
at that epoch stops there) and the persistence (a journal file: an interrupted
search continues where it stopped). What is added here:

- trials are pipeline trainings (training.train, the same loss, data and
  Trainer as the train stage) on data/tokenized, their settings validated as
  params are;
- a killed search leaves its last trial RUNNING in the journal. On restart
  that trial is marked FAIL, its MLflow run KILLED, and the same settings are
  queued again, so the point it was trying is not lost; finished (complete or
  pruned) trials count towards `n_trials`, so a resumed search only runs the
  missing ones. One search at a time per study (a file lock).
- the best settings go to search/best_params.json with the
  `dvc exp run -S ...` command that applies them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import optuna
from datasets import DatasetDict
from filelock import FileLock, Timeout
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState
from transformers import PreTrainedTokenizerBase, TrainerCallback

from sentiment_pipeline import tracking
from sentiment_pipeline.config import Params, flatten, with_overrides
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.models import kinds
from sentiment_pipeline.search_space import SearchChoices
from sentiment_pipeline.training.callbacks import MlflowHistoryCallback
from sentiment_pipeline.training.checkpoints import CheckpointDir
from sentiment_pipeline.training.fit import train
from sentiment_pipeline.training.search_storage import open_storage, storage_url

STUDY_FILE = "study.journal"
BEST_PARAMS_FILE = "best_params.json"
SEARCH_LOCK = "search.lock"
PARENT_RUN_ATTR = "mlflow_parent_run_id"
CHILD_RUN_ATTR = "mlflow_run_id"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class PruningCallback(TrainerCallback):
    """Reports validation F1 to Optuna after each epoch; stops a trial the pruner rejects."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        value = (metrics or {}).get("eval_f1")
        if value is None:
            return
        epoch = int(round(state.epoch or 0))
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"validation F1 {value:.4f} after epoch {epoch} is below the median")


def suggest(trial: optuna.Trial, key: str, spec: Any, current: Any) -> Any:
    """One value of `key` from its search-space entry (integers for integer settings)."""
    if isinstance(spec, SearchChoices):
        return trial.suggest_categorical(key, spec.choices)
    if isinstance(current, int) and not isinstance(current, bool):
        return trial.suggest_int(key, int(spec.low), int(spec.high), log=spec.log)
    return trial.suggest_float(key, spec.low, spec.high, log=spec.log)


def dvc_exp_command(values: dict[str, Any]) -> str:
    return "dvc exp run " + " ".join(f"-S {shlex.quote(f'{k}={v!r}')}" for k, v in values.items())


@dataclass
class SearchResult:
    study: optuna.Study
    parent_run_id: str
    best: dict | None  # what best_params.json holds; None when no trial completed


def load_study(params: Params, out_dir: Path, pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    cfg = params.search
    storage = open_storage(Path(out_dir) / STUDY_FILE)
    return optuna.create_study(
        study_name=cfg.study_name,
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=cfg.seed),
        pruner=pruner
        or optuna.pruners.MedianPruner(
            n_startup_trials=cfg.pruner.n_startup_trials, n_warmup_steps=cfg.pruner.n_warmup_epochs
        ),
        load_if_exists=True,
    )


def _recover_interrupted(study: optuna.Study, client: MlflowClient) -> list[int]:
    """Trials a killed search left RUNNING: FAIL them, retry their settings."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        study.tell(trial.number, state=TrialState.FAIL)
        run_id = trial.user_attrs.get(CHILD_RUN_ATTR)
        if run_id:
            with contextlib.suppress(MlflowException):  # a run the store no longer holds
                client.set_terminated(run_id, status="KILLED")
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
    return [t.number for t in stale]


def _parent_run(study: optuna.Study, params: Params, client: MlflowClient) -> mlflow.ActiveRun:
    run_id = study.user_attrs.get(PARENT_RUN_ATTR)
    if run_id:
        try:
            client.get_run(run_id)
            run = mlflow.start_run(run_id=run_id)
            mlflow.set_tag("resumed", "true")
            return run
        except MlflowException:
            pass  # the store was reset: start a new parent
    experiment_id = tracking.prepare_experiment(params.mlflow.experiment)
    tags = {**tracking.run_tags(params, _label(params)), "search_study": study.study_name, "run_kind": "search"}
    run = mlflow.start_run(experiment_id=experiment_id, run_name=f"search-{study.study_name}", tags=tags)
    mlflow.log_params(flatten(params, exclude=()))
    study.set_user_attr(PARENT_RUN_ATTR, run.info.run_id)
    return run


def run_search(
    params: Params,
    tokenized: DatasetDict,
    tokenizer: PreTrainedTokenizerBase | None,
    out_dir: Path,
    n_trials: int | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> SearchResult:
    """Run the study until `n_trials` (default search.n_trials) trials have
    finished, counting those of earlier, interrupted runs of it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = n_trials or params.search.n_trials
    shared = storage_url() is not None  # a study in a database: other workers join it, no lock
    lock = contextlib.nullcontext() if shared else _acquire_search_lock(out_dir)
    try:
        study, client = _open_study(params, out_dir, pruner, recover=not shared)
        objective = _make_objective(params, tokenized, tokenizer, out_dir)
        with _parent_run(study, params, client) as parent:
            remaining = target - len(study.get_trials(deepcopy=False, states=FINISHED))
            if remaining > 0:  # the callback stops this worker once the study (all workers) has `target`
                stop = optuna.study.MaxTrialsCallback(target, states=FINISHED)
                study.optimize(objective, n_trials=remaining, gc_after_trial=True, callbacks=[stop])
            best = _log_search_outcome(study, params, out_dir)
        return SearchResult(study=study, parent_run_id=parent.info.run_id, best=best)
    finally:
        if not shared:
            lock.release()


def _acquire_search_lock(out_dir: Path) -> FileLock:
    """One search at a time per study folder: a held lock is refused at once."""
    lock = FileLock(str(out_dir / SEARCH_LOCK))  # not "<journal>.lock": Optuna's own journal lock
    try:
        lock.acquire(timeout=0)
    except Timeout as err:
        raise PipelineInputError(
            f"another search is running on {out_dir / STUDY_FILE}; wait for it or stop it first"
        ) from err
    return lock


def _open_study(
    params: Params, out_dir: Path, pruner: optuna.pruners.BasePruner | None, recover: bool = True
) -> tuple[optuna.Study, MlflowClient]:
    """The study (new or resumed, its interrupted trials queued again) and the MLflow client of its store."""
    uri = tracking.tracking_uri()
    tracking.use_store(uri)
    client = MlflowClient(uri)
    study = load_study(params, out_dir, pruner)
    retried = _recover_interrupted(study, client) if recover else []
    if retried:
        print(
            f"Resuming study {params.search.study_name!r}: trial(s) {retried} were interrupted; retrying their settings"
        )
    return study, client


def _make_objective(
    params: Params, tokenized: DatasetDict, tokenizer: PreTrainedTokenizerBase | None, out_dir: Path
) -> Callable[[optuna.Trial], float]:
    """Optuna's objective: a trial's settings drawn from search.space, trained, its validation F1 returned."""
    cfg = params.search
    fixed = {"train.epochs": cfg.epochs} if cfg.epochs else {}
    base = flatten(params)

    def objective(trial: optuna.Trial) -> float:
        values = {key: suggest(trial, key, spec, base[key]) for key, spec in cfg.space.items()}
        trial_params = with_overrides(params, {**values, **fixed})
        tags = {
            **tracking.run_tags(trial_params, _label(trial_params)),
            "search_study": cfg.study_name,
            "optuna_trial": str(trial.number),
            "run_kind": "trial",
        }
        return _run_trial(trial, trial_params, tags, tokenized, tokenizer, out_dir)

    return objective


def _run_trial(
    trial: optuna.Trial,
    trial_params: Params,
    tags: dict[str, str],
    tokenized: DatasetDict,
    tokenizer: PreTrainedTokenizerBase | None,
    out_dir: Path,
) -> float:
    """One training as an MLflow run nested under the parent. A pruned trial's run
    is closed (tagged PRUNED) before TrialPruned reaches Optuna."""
    pruned: optuna.TrialPruned | None = None
    experiment_id = mlflow.active_run().info.experiment_id  # the parent's, not the default
    with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True, tags=tags, experiment_id=experiment_id) as run:
        trial.set_user_attr(CHILD_RUN_ATTR, run.info.run_id)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which of N workers ran it
        mlflow.log_params(flatten(trial_params))
        with tempfile.TemporaryDirectory(dir=out_dir, prefix="trial-") as scratch:
            try:
                result = train(
                    trial_params,
                    tokenized,
                    Path(scratch) / "model",
                    CheckpointDir(Path(scratch) / "checkpoints", {}),
                    callbacks=[MlflowHistoryCallback(), PruningCallback(trial)],
                    tokenizer=tokenizer,
                )
            except optuna.TrialPruned as err:
                pruned = err
                mlflow.set_tag("optuna_state", "PRUNED")
        if pruned is None:
            tracking.log_train_summary(result.metrics)
            mlflow.set_tag("optuna_state", "COMPLETE")
    if pruned is not None:
        raise pruned
    return float(result.metrics["val_f1"])


def _log_search_outcome(study: optuna.Study, params: Params, out_dir: Path) -> dict | None:
    """best_params.json written and logged to the parent run, with the best F1 and the trial counts."""
    best = write_best(study, params, out_dir)
    if best:
        mlflow.log_metric("best_val_f1", best["val_f1"])
        mlflow.set_tag("best_trial", str(best["trial"]))
        mlflow.log_artifact(str(out_dir / BEST_PARAMS_FILE))
    counts = {
        s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,)))
        for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }
    mlflow.log_metrics({f"trials_{k}": v for k, v in counts.items()})
    return best


def write_best(study: optuna.Study, params: Params, out_dir: Path) -> dict | None:
    """search/best_params.json: the best completed trial's settings and the
    `dvc exp run -S ...` command that applies them."""
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completed:
        return None
    trial = max(completed, key=lambda t: t.value)
    values = dict(trial.params)
    if params.search.epochs:
        values["train.epochs"] = params.search.epochs
    best = {
        "study": study.study_name,
        "trial": trial.number,
        "val_f1": trial.value,
        "params": values,
        "command": dvc_exp_command(values),
        "trials_finished": len(study.get_trials(deepcopy=False, states=FINISHED)),
    }
    (Path(out_dir) / BEST_PARAMS_FILE).write_text(json.dumps(best, indent=2) + "\n")
    return best


def _label(params: Params) -> str:
    return kinds.get(params.model.type).label(params.model)
