"""Finished DVC experiments as committed evidence: each one's results copied out
of git and the DVC cache into ``<out>/<experiment>/``, and one summary entry
per run. Experiment refs stay in the clone that ran them; these files travel.

Per experiment: ``eval.json`` and ``train.json`` (its metrics files),
``predictions.csv`` (one row per test review: ``row``, its 0-based row in
data.source's test split, ``label``, ``prob_pos``, ``prob_pos_scaled``) and
``plots/`` (the plot stage's figures). Read at the experiment's commit through
`dvc.api.DVCFileSystem`, so nothing is checked out. Run times come from the
experiment's MLflow run (tag ``dvc_exp_name``), where every run records them.
Runs exported earlier (in ``summary.json``, with their folder) stay in the
evidence after their experiment refs are gone: ``reported_runs`` reads them back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment_pipeline import paths
from sentiment_pipeline.config import Params, flatten, parse_params

PREDICTION_COLUMNS = [paths.ROW, paths.LABEL, "prob_pos", "prob_pos_scaled"]
METRICS_FILES = {paths.EVAL_METRICS: "eval.json", paths.TRAIN_METRICS: "train.json"}


def export_experiment(rev: str, name: str, out: Path, repo: str = ".") -> Path:
    """Copy experiment `name` (commit `rev`)'s results into out/name; returns that folder."""
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(repo, rev=rev)
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    for source, target in METRICS_FILES.items():
        (folder / target).write_text(fs.read_text(str(source)))
    with fs.open(str(paths.PREDICTIONS)) as fh:
        predictions = pd.read_csv(fh)
    predictions[PREDICTION_COLUMNS].to_csv(folder / "predictions.csv", index=False)
    if fs.isdir(str(paths.PLOTS_DIR)):
        fs.get(str(paths.PLOTS_DIR), str(folder / "plots"), recursive=True)
    return folder


def changed_params(params: dict, base: Params) -> dict[str, Any]:
    """The dotted params of an experiment that differ from `base` (params.yaml)."""
    mine, theirs = flatten(parse_params(params)), flatten(base)
    return {k: v for k, v in mine.items() if theirs.get(k) != v}


TIMING_FIELDS = ("train_seconds", "train_examples_per_s", "test_examples_per_s", "device", "mlflow_run_id")


def mlflow_timing(name: str, experiment: str) -> dict[str, Any]:
    """Train time, throughputs and device of the latest MLflow run of DVC experiment `name`
    (the DVC outputs hold no timings: they would differ on every rerun)."""
    from mlflow.tracking import MlflowClient

    from sentiment_pipeline import tracking

    client = MlflowClient(tracking.tracking_uri())
    found = client.get_experiment_by_name(experiment)
    runs = (
        client.search_runs(
            [found.experiment_id],
            filter_string=f"tags.dvc_exp_name = '{name}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if found
        else []
    )
    if not runs:
        return dict.fromkeys(TIMING_FIELDS)
    run = runs[0]
    return {
        "train_seconds": run.data.metrics.get("timing_train_runtime_s"),
        "train_examples_per_s": run.data.metrics.get("timing_train_examples_per_s"),
        "test_examples_per_s": run.data.metrics.get("test_timing_examples_per_s"),
        "device": run.data.tags.get("device"),
        "mlflow_run_id": run.info.run_id,
    }


def summary_entry(record: dict, base: Params, timing: dict) -> dict:
    """One run of reports/<group>/summary.json, from a dvc_experiments record."""
    params = parse_params(record["params"])
    evaluation = record["metrics"].get(str(paths.EVAL_METRICS), {})
    train = record["metrics"].get(str(paths.TRAIN_METRICS), {})
    return {
        "experiment": record["name"],
        "git_commit": record["baseline"],
        "experiment_commit": record["rev"],
        "changed_params": changed_params(record["params"], base),
        "seed": params.train.seed,
        "length_weight": params.train.loss.length_weight,
        "confidence_penalty": params.train.loss.confidence_penalty,
        "n_train": train.get("n_train"),
        "n_test": evaluation.get("n_examples"),
        "test_accuracy": evaluation.get("accuracy"),
        "test_f1": evaluation.get("f1"),
        "test_ece": evaluation.get("ece"),
        "test_ece_scaled": evaluation.get("ece_scaled"),
        "temperature": evaluation.get("temperature"),
        **timing,
    }


def write_summary(entries: list[dict], path: Path) -> None:
    entries = sorted(entries, key=lambda e: (e["length_weight"], e["confidence_penalty"], e["seed"]))
    Path(path).write_text(json.dumps({"runs": entries}, indent=2) + "\n")


def reported_runs(out: Path, prefix: str, exclude: set[str] = frozenset()) -> list[dict]:
    """The summary entries of runs named prefix* already exported to out/ (their
    folder holds eval.json and predictions.csv), except those named in `exclude`."""
    summary = Path(out) / "summary.json"
    if not summary.exists():
        return []
    entries = json.loads(summary.read_text())["runs"]
    return [
        e
        for e in entries
        if e["experiment"].startswith(prefix)
        and e["experiment"] not in exclude
        and all((Path(out) / e["experiment"] / f).exists() for f in ("eval.json", "predictions.csv"))
    ]
