"""Reading `dvc exp show --json` (DVC 3): the finished experiments, with their
params and metrics files. Shared by the tools that tabulate experiments."""

from __future__ import annotations

from typing import Iterator


def get(tree: dict, *keys: str):
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def finished_experiments(exp_show: list[dict], prefix: str) -> Iterator[tuple[str, dict, dict]]:
    """(name, params.yaml content, {metrics file: content}) for each finished
    experiment named prefix*. Queued and running ones are skipped: what `dvc
    exp show` lists for them are still the baseline's metrics."""
    for baseline in exp_show:
        for experiment in baseline.get("experiments") or []:
            state = (experiment.get("executor") or {}).get("state", "success")
            if state != "success":
                continue
            for rev in experiment.get("revs") or []:
                name = rev.get("name") or experiment.get("name") or ""
                data = rev.get("data") or {}
                if not name.startswith(prefix) or rev.get("error"):
                    continue
                metrics = {path: get(content, "data") or {} for path, content in (data.get("metrics") or {}).items()}
                if not metrics.get("metrics/eval.json"):
                    continue  # failed before evaluate: no results
                yield name, get(data, "params", "params.yaml", "data") or {}, metrics
