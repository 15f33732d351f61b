"""Hyperparameter search over params.yaml's `search.space` (Optuna + MLflow).

    dvc repro tokenize                   # the search trains on data/tokenized
    python tools/hparam_search.py [--n-trials N]
    dvc exp run -S ...                   # the command it prints (search/best_params.json)

Each trial is a training on data/tokenized with sampled settings, logged as an
MLflow run nested under the search's parent run (`mlflow ui`: expand the parent
run). The study lives in search/study.journal: run the same command again after
an interruption and it continues, running only the trials still missing.

Why a command and not a `dvc.yaml` stage: a search's result depends on its own
history (the trials in the journal), not only on its inputs, so DVC could not
cache or reproduce it; and every `dvc repro` / `dvc exp run` would have to skip
it (DVC has no opt-in stages). The pipeline's params stay the source of truth:
the best settings come back in as an ordinary `dvc exp run -S ...` experiment.
"""

from __future__ import annotations

import argparse

from datasets import load_from_disk

from sentiment_pipeline import paths
from sentiment_pipeline.config import load_params
from sentiment_pipeline.models import kinds
from sentiment_pipeline.stage import run
from sentiment_pipeline.training.search import run_search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-trials", type=int, default=None, help="finished trials wanted (default search.n_trials)")
    args = parser.parse_args()
    if args.n_trials is not None and args.n_trials < 1:
        parser.error("--n-trials must be >= 1")
    params = load_params()
    if not paths.TOKENIZED_DIR.is_dir():
        raise FileNotFoundError(f"{paths.TOKENIZED_DIR} not found: run `dvc repro tokenize` first")
    tokenized = load_from_disk(str(paths.TOKENIZED_DIR))
    tokenizer = kinds.get(params.model.type).saved_tokenizer(paths.TOKENIZER_DIR)
    result = run_search(params, tokenized, tokenizer, paths.SEARCH_DIR, n_trials=args.n_trials)
    study = result.study
    print(
        f"study {study.study_name!r}: {len(study.trials)} trials "
        f"({', '.join(f'{s}: {n}' for s, n in _states(study).items())}); MLflow parent run {result.parent_run_id}"
    )
    if result.best is None:
        print("no trial completed (all pruned or failed): no best params")
        return
    print(f"best: trial {result.best['trial']}, validation F1 {result.best['val_f1']:.4f}")
    print(f"written to {paths.SEARCH_DIR / 'best_params.json'}; apply with:\n  {result.best['command']}")


def _states(study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return counts


if __name__ == "__main__":
    run(main)
