"""The loss ablation: length_weight in {0, w} x confidence_penalty in {0, c} x seeds,
as queued DVC experiments, and the table of their results.

    python tools/loss_ablation.py queue [--w 0.5] [--c 1.0] [--seeds 1 2 3] [-S key=value ...]
    dvc queue start -j 1 && dvc queue status      # runs them, one at a time
    python tools/loss_ablation.py collect [--markdown README-table.md]

`queue` calls `dvc exp run --queue -n abl-lw<a>-cp<g>-s<seed> -S ...` once per
cell and seed (extra -S settings, e.g. a subset, go to every experiment).
`collect` reads `dvc exp show --json`, keeps the experiments named abl-*, and
prints mean +- std (over seeds) of test accuracy, F1, ECE (and Brier, log
loss) per loss setting. Only the training seed (`train.seed`: head
initialisation, data order, dropout) varies; the data subset stays fixed, so
the spread is the training's own.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import pandas as pd

from sentiment_pipeline.dvc_experiments import finished_experiments, get, load_exp_show, run_queue_commands

PREFIX = "abl-"
METRICS = ("accuracy", "f1", "ece", "brier", "log_loss")


def experiment_name(length_weight: float, penalty: float, seed: int) -> str:
    return f"{PREFIX}lw{length_weight:g}-cp{penalty:g}-s{seed}"


def queue_commands(w: float, c: float, seeds: list[int], extra: list[str]) -> list[list[str]]:
    commands = []
    for length_weight, penalty, seed in itertools.product((0.0, w), (0.0, c), seeds):
        cmd = [
            "dvc",
            "exp",
            "run",
            "--queue",
            "-n",
            experiment_name(length_weight, penalty, seed),
            "-S",
            f"train.loss.length_weight={length_weight:g}",
            "-S",
            f"train.loss.confidence_penalty={penalty:g}",
            "-S",
            f"train.seed={seed}",
        ]
        for setting in extra:
            cmd += ["-S", setting]
        commands.append(cmd)
    return commands


def experiment_rows(exp_show: list[dict], prefix: str = PREFIX) -> pd.DataFrame:
    """One row per finished experiment named prefix*: its loss settings, seed and
    test metrics, from the structure `dvc exp show --json` prints (DVC 3)."""
    rows = []
    for name, params, metrics in finished_experiments(exp_show, prefix):
        rows.append(
            {
                "experiment": name,
                "length_weight": get(params, "train", "loss", "length_weight"),
                "confidence_penalty": get(params, "train", "loss", "confidence_penalty"),
                "seed": get(params, "train", "seed"),
                **{m: metrics["metrics/eval.json"].get(m) for m in METRICS},
            }
        )
    return pd.DataFrame(rows, columns=["experiment", "length_weight", "confidence_penalty", "seed", *METRICS])


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """mean and std (ddof 1) over seeds per (length_weight, confidence_penalty)."""
    grouped = rows.groupby(["length_weight", "confidence_penalty"])
    out = grouped[list(METRICS)].agg(["mean", "std"])
    out.columns = [f"{metric}_{stat}" for metric, stat in out.columns]
    out.insert(0, "runs", grouped.size())
    return out.reset_index()


def to_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| length_weight | confidence_penalty | runs | test accuracy | test F1 | test ECE | Brier | log loss |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table.to_dict(orient="records"):
        cells = [
            f"{r[f'{m}_mean']:.4f} ± {r[f'{m}_std']:.4f}" if r["runs"] > 1 else f"{r[f'{m}_mean']:.4f}" for m in METRICS
        ]
        lines.append(
            f"| {r['length_weight']:g} | {r['confidence_penalty']:g} | {r['runs']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queue", help="queue the grid as DVC experiments")
    q.add_argument("--w", type=float, default=0.5, help="the non-zero length_weight")
    q.add_argument("--c", type=float, default=1.0, help="the non-zero confidence_penalty")
    q.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    q.add_argument(
        "-S",
        "--set-param",
        dest="extra",
        action="append",
        default=[],
        help="another -S for every experiment, e.g. data.train_size=2000",
    )
    q.add_argument("--dry-run", action="store_true", help="print the commands only")
    c = sub.add_parser("collect", help="table of the finished abl-* experiments")
    c.add_argument("--exp-show-json", type=Path, help="read this file instead of running dvc exp show --json")
    c.add_argument(
        "-A",
        "--all-commits",
        action="store_true",
        help="experiments of every commit, not only of HEAD (the queue ran on an older commit)",
    )
    c.add_argument("--markdown", type=Path, help="also write the table here")
    c.add_argument("--runs-csv", type=Path, help="also write one row per experiment here")
    args = parser.parse_args()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")

    if args.command == "queue":
        run_queue_commands(queue_commands(args.w, args.c, args.seeds, args.extra), args.dry_run)
        return

    rows = experiment_rows(load_exp_show(args.exp_show_json, args.all_commits))
    if rows.empty:
        sys.exit(f"no finished experiments named {PREFIX}* in dvc exp show: queue and run them first")
    table = summary(rows)
    print(rows.to_string(index=False))
    print()
    print(to_markdown(table))
    if args.markdown:
        args.markdown.write_text(to_markdown(table))
    if args.runs_csv:
        rows.to_csv(args.runs_csv, index=False)


if __name__ == "__main__":
    main()
