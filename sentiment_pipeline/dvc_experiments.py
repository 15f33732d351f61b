"""Reading `dvc exp show --json` (DVC 3): the finished experiments, with their
params and metrics files. Shared by the tools that tabulate experiments."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path


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
    for record in experiment_records(exp_show, prefix):
        yield record["name"], record["params"], record["metrics"]


def experiment_records(exp_show: list[dict], prefix: str) -> Iterator[dict]:
    """Each finished experiment named prefix*: {name, rev (its commit), baseline
    (the commit it ran on), params (params.yaml content), metrics ({file: content})}."""
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
                yield {
                    "name": name,
                    "rev": rev.get("rev"),
                    "baseline": baseline.get("rev"),
                    "params": get(data, "params", "params.yaml", "data") or {},
                    "metrics": metrics,
                }


def experiment_revs(exp_show: list[dict], prefix: str) -> dict[str, str]:
    """{experiment name: its commit} for the experiments named prefix*."""
    revs = {}
    for baseline in exp_show:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                name = rev.get("name") or experiment.get("name") or ""
                if name.startswith(prefix) and rev.get("rev"):
                    revs[name] = rev["rev"]
    return revs


def run_queue_commands(commands: list[list[str]], dry_run: bool) -> None:
    """Print each `dvc exp run --queue ...` command and run it (unless dry_run)."""
    for cmd in commands:
        print(" ".join(cmd), flush=True)
        if not dry_run:
            subprocess.run(cmd, check=True)
    if not dry_run:
        print("queued; now: dvc queue start -j 1   (progress: dvc queue status, dvc queue logs <name>)")


def load_exp_show(path: Path | None, all_commits: bool) -> list[dict]:
    """`dvc exp show --json` (of HEAD, or -A: every commit), or a saved copy of it."""
    text = (
        path.read_text()
        if path
        else subprocess.run(
            ["dvc", "exp", "show", "--json", *(["-A"] if all_commits else [])],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return json.loads(text)
