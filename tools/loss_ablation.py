"""The loss ablation: length_weight in {0, w} x confidence_penalty in {0, c} x seeds,
as queued DVC experiments, and the evidence of their results.

    python tools/loss_ablation.py queue [--w 0.5] [--c 1.0] [--seeds 1 2 3] [--cells 0,0 0.5,1]
        [--preset full_data_cpu] [--prefix fd-] [-S key=value ...]
    dvc queue start -j 1 && dvc queue status      # runs them, one at a time
    python tools/loss_ablation.py collect [--prefix fd-] [--out reports/full_data] [--markdown table.md]

`queue` calls `dvc exp run --queue -n <prefix>lw<a>-cp<g>-s<seed> -S ...` once per
cell and seed (`--cells` picks cells, e.g. `0,0 0.5,1`; a preset's settings and
extra -S settings go to every experiment). `collect` reads `dvc exp show
--json`, keeps the experiments named <prefix>*, and prints mean +- std (over
seeds) of test accuracy, F1, ECE (and Brier, log loss) per loss setting. Then,
on the same test reviews, each setting against the baseline (both loss terms
0), seed paired with seed: McNemar's exact test on the per-review correctness
and 95% paired bootstrap intervals for the differences in accuracy and ECE,
before and after temperature scaling (evaluation/ablation.py, paired.py). The
per-review predictions come from each experiment's reports/predictions.csv in
the DVC cache (`dvc.api.open`), or from `--predictions-dir DIR` holding
<experiment>.csv files. `--out DIR` also writes the evidence as files that
travel with the repository (experiment refs do not): DIR/<experiment>/ (its
eval.json, train.json, predictions.csv, plots), DIR/summary.json (one entry
per run) and DIR/loss_verdict.md (the tables and the verdict in plain words).
Runs already in DIR/summary.json whose experiments are gone (another clone, an
earlier session) stay in the tables and the pairing, read from DIR.
Only the training seed (`train.seed`: head initialisation, data order) varies;
the data stays fixed, so the spread is the training's own.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import pandas as pd

from sentiment_pipeline import experiment_reports
from sentiment_pipeline.config import load_params
from sentiment_pipeline.dvc_experiments import experiment_records, experiment_revs, load_exp_show, run_queue_commands
from sentiment_pipeline.evaluation.ablation import (
    PREFIX,
    experiment_rows,
    load_predictions,
    paired_markdown,
    paired_table,
    reported_rows,
    summary,
    to_markdown,
    verdict,
)

sys.path.insert(0, str(Path(__file__).parent))
from run_preset import load_preset, settings


def experiment_name(length_weight: float, penalty: float, seed: int, prefix: str = PREFIX) -> str:
    return f"{prefix}lw{length_weight:g}-cp{penalty:g}-s{seed}"


def queue_commands(
    w: float,
    c: float,
    seeds: list[int],
    extra: list[str],
    prefix: str = PREFIX,
    cells: list[tuple[float, float]] | None = None,
) -> list[list[str]]:
    """One `dvc exp run --queue` per cell and seed, seed by seed (the first seed of
    every cell runs before the second of any)."""
    cells = cells or list(itertools.product((0.0, w), (0.0, c)))
    commands = []
    for seed, (length_weight, penalty) in itertools.product(seeds, cells):
        cmd = [
            "dvc",
            "exp",
            "run",
            "--queue",
            "-n",
            experiment_name(length_weight, penalty, seed, prefix),
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


def parse_cell(text: str) -> tuple[float, float]:
    try:
        lw, cp = (float(v) for v in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"a cell is length_weight,confidence_penalty (e.g. 0.5,1): {text!r}") from err
    return lw, cp


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queue", help="queue the grid as DVC experiments")
    q.add_argument("--w", type=float, default=0.5, help="the non-zero length_weight")
    q.add_argument("--c", type=float, default=1.0, help="the non-zero confidence_penalty")
    q.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    q.add_argument("--cells", type=parse_cell, nargs="+", help="only these length_weight,confidence_penalty cells")
    q.add_argument("--preset", help="a file in presets/ (without .yaml) whose settings every experiment gets")
    q.add_argument("-S", "--set-param", dest="extra", action="append", default=[], help="another -S for every one")
    q.add_argument("--dry-run", action="store_true", help="print the commands only")
    c = sub.add_parser("collect", help="tables (and with --out, evidence files) of the finished experiments")
    c.add_argument("--exp-show-json", type=Path, help="read this file instead of running dvc exp show --json")
    c.add_argument("-A", "--all-commits", action="store_true", help="experiments of every commit, not only HEAD's")
    c.add_argument("--markdown", type=Path, help="also write the tables here")
    c.add_argument("--runs-csv", type=Path, help="also write one row per experiment here")
    c.add_argument("--out", type=Path, help="write <out>/<experiment>/, summary.json and loss_verdict.md")
    c.add_argument("--predictions-dir", type=Path, help="<experiment>.csv predictions here instead of the DVC cache")
    c.add_argument("--no-paired", action="store_true", help="skip the paired comparisons")
    c.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    for command in (q, c):
        command.add_argument("--prefix", default=PREFIX, help=f"experiment names start with this (default {PREFIX})")
    return p


def export(shown: list[dict], prefix: str, out: Path, reported: list[dict]) -> None:
    """Each finished experiment's files under out/, and out/summary.json (with the
    `reported` entries of runs exported earlier, kept as they are)."""
    base = load_params()
    entries = list(reported)
    for record in experiment_records(shown, prefix):
        experiment_reports.export_experiment(record["rev"], record["name"], out)
        timing = experiment_reports.mlflow_timing(record["name"], base.mlflow.experiment)
        entries.append(experiment_reports.summary_entry(record, base, timing))
        print(f"{record['name']}: {out / record['name']}", flush=True)
    experiment_reports.write_summary(entries, out / "summary.json")


def collect(args: argparse.Namespace) -> None:
    shown = load_exp_show(args.exp_show_json, args.all_commits)
    rows = experiment_rows(shown, args.prefix)
    reported = experiment_reports.reported_runs(args.out, args.prefix, set(rows["experiment"])) if args.out else []
    if reported:
        rows = pd.concat([rows, reported_rows(reported, args.out)], ignore_index=True)
    if rows.empty:
        sys.exit(f"no finished experiments named {args.prefix}* in dvc exp show: queue and run them first")
    print(rows.to_string(index=False), end="\n\n")
    text = to_markdown(summary(rows))
    if not args.no_paired:
        revs = experiment_revs(shown, args.prefix)
        files = {e["experiment"]: args.out / e["experiment"] / "predictions.csv" for e in reported}
        predictions = load_predictions(list(rows["experiment"]), revs, args.predictions_dir, files)
        paired = paired_table(rows, predictions, args.n_boot)
        text += "\n" + paired_markdown(paired) + "\n" + "\n".join(f"- {line}" for line in verdict(paired)) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.runs_csv:
        rows.to_csv(args.runs_csv, index=False)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        export(shown, args.prefix, args.out, reported)
        (args.out / "loss_verdict.md").write_text(f"# The custom loss at this scale\n\n{text}")


def main() -> None:
    args = parser().parse_args()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    if args.command == "queue":
        extra = [*(settings(load_preset(args.preset)) if args.preset else []), *args.extra]
        commands = queue_commands(args.w, args.c, args.seeds, extra, args.prefix, args.cells)
        run_queue_commands(commands, args.dry_run)
        return
    collect(args)


if __name__ == "__main__":
    main()
