"""The loss ablation: length_weight in {0, w} x confidence_penalty in {0, c} x seeds,
as queued DVC experiments, and the table of their results.

    python tools/loss_ablation.py queue [--w 0.5] [--c 1.0] [--seeds 1 2 3] [-S key=value ...]
    dvc queue start -j 1 && dvc queue status      # runs them, one at a time
    python tools/loss_ablation.py collect [--markdown README-table.md]

`queue` calls `dvc exp run --queue -n abl-lw<a>-cp<g>-s<seed> -S ...` once per
cell and seed (extra -S settings, e.g. a subset, go to every experiment).
`collect` reads `dvc exp show --json`, keeps the experiments named abl-*, and
prints mean +- std (over seeds) of test accuracy, F1, ECE (and Brier, log
loss) per loss setting. Then, on the same test reviews, each setting against
the baseline (both loss terms 0), seed paired with seed: McNemar's exact test
on the per-review correctness and 95% paired bootstrap intervals for the
differences in accuracy and ECE, before and after temperature scaling
(evaluation/paired.py). The per-review predictions come from each
experiment's reports/predictions.csv in the DVC cache (`dvc.api.open`), or
from `--predictions-dir DIR` holding <experiment>.csv files (e.g. runs brought
back from a GPU machine). Only the training seed (`train.seed`: head
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

from sentiment_pipeline.dvc_experiments import (
    experiment_revs,
    finished_experiments,
    get,
    load_exp_show,
    run_queue_commands,
)
from sentiment_pipeline.evaluation.paired import accuracy, ece, mcnemar, paired_bootstrap

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


PREDICTIONS = "reports/predictions.csv"


def load_predictions(names: list[str], revs: dict[str, str], folder: Path | None) -> dict[str, pd.DataFrame]:
    """Each experiment's per-review predictions: <folder>/<name>.csv, or its
    reports/predictions.csv from the DVC cache at the experiment's commit."""
    out = {}
    for name in names:
        if folder is not None:
            out[name] = pd.read_csv(folder / f"{name}.csv")
            continue
        import dvc.api

        with dvc.api.open(PREDICTIONS, rev=revs.get(name, name)) as fh:
            out[name] = pd.read_csv(fh)
    return out


def paired_table(rows: pd.DataFrame, predictions: dict[str, pd.DataFrame], n_boot: int = 2000) -> pd.DataFrame:
    """Each loss setting against the baseline (0, 0), seed paired with seed, on the same reviews."""
    base = rows[(rows["length_weight"] == 0) & (rows["confidence_penalty"] == 0)].set_index("seed")["experiment"]
    if base.empty:
        raise SystemExit("no baseline experiment (length_weight=0, confidence_penalty=0) to pair with")
    out = []
    for (lw, cp), group in rows.groupby(["length_weight", "confidence_penalty"]):
        if lw == 0 and cp == 0:
            continue
        pairs = [
            (predictions[base[s]], predictions[name])
            for s, name in zip(group["seed"], group["experiment"])
            if s in base.index
        ]
        if not pairs:
            continue
        labels = pairs[0][0]["label"].to_numpy()
        for a, b in pairs:
            if not (a["label"].to_numpy() == labels).all() or not (b["label"].to_numpy() == labels).all():
                raise SystemExit("the paired experiments were not scored on the same test reviews")
        scaled = (
            "prob_pos_scaled"
            if all("prob_pos_scaled" in a and "prob_pos_scaled" in b for a, b in pairs)
            else "prob_pos"
        )
        prob = {
            col: ([a[col].to_numpy() for a, _ in pairs], [b[col].to_numpy() for _, b in pairs])
            for col in ("prob_pos", scaled)
        }
        test = mcnemar(
            [(p >= 0.5) == labels for p in prob["prob_pos"][0]], [(p >= 0.5) == labels for p in prob["prob_pos"][1]]
        )
        acc = paired_bootstrap(labels, *prob["prob_pos"], accuracy, n_boot)
        cal = paired_bootstrap(labels, *prob["prob_pos"], ece, n_boot)
        cal_scaled = paired_bootstrap(labels, *prob[scaled], ece, n_boot)
        out.append(
            {
                "length_weight": lw,
                "confidence_penalty": cp,
                "pairs": len(pairs),
                "d_accuracy": acc.mean,
                "d_accuracy_low": acc.low,
                "d_accuracy_high": acc.high,
                "only_baseline_right": test.only_a,
                "only_setting_right": test.only_b,
                "mcnemar_p": test.p_value,
                "d_ece": cal.mean,
                "d_ece_low": cal.low,
                "d_ece_high": cal.high,
                "d_ece_scaled": cal_scaled.mean,
                "d_ece_scaled_low": cal_scaled.low,
                "d_ece_scaled_high": cal_scaled.high,
            }
        )
    return pd.DataFrame(out)


def paired_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| length_weight | confidence_penalty | seed pairs | Δ accuracy [95% CI] | McNemar: only baseline / "
        "only setting right, p | Δ ECE [95% CI] | Δ ECE after temperature scaling [95% CI] |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table.to_dict(orient="records"):
        lines.append(
            f"| {r['length_weight']:g} | {r['confidence_penalty']:g} | {r['pairs']} | "
            f"{r['d_accuracy']:+.4f} [{r['d_accuracy_low']:+.4f}, {r['d_accuracy_high']:+.4f}] | "
            f"{r['only_baseline_right']} / {r['only_setting_right']}, p = {r['mcnemar_p']:.3g} | "
            f"{r['d_ece']:+.4f} [{r['d_ece_low']:+.4f}, {r['d_ece_high']:+.4f}] | "
            f"{r['d_ece_scaled']:+.4f} [{r['d_ece_scaled_low']:+.4f}, {r['d_ece_scaled_high']:+.4f}] |"
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
    c.add_argument("--predictions-dir", type=Path, help="<experiment>.csv predictions here instead of the DVC cache")
    c.add_argument("--no-paired", action="store_true", help="skip the paired comparisons")
    c.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    args = parser.parse_args()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")

    if args.command == "queue":
        run_queue_commands(queue_commands(args.w, args.c, args.seeds, args.extra), args.dry_run)
        return

    shown = load_exp_show(args.exp_show_json, args.all_commits)
    rows = experiment_rows(shown)
    if rows.empty:
        sys.exit(f"no finished experiments named {PREFIX}* in dvc exp show: queue and run them first")
    table = summary(rows)
    print(rows.to_string(index=False))
    print()
    print(to_markdown(table))
    text = to_markdown(table)
    if not args.no_paired:
        predictions = load_predictions(list(rows["experiment"]), experiment_revs(shown, PREFIX), args.predictions_dir)
        paired = paired_markdown(paired_table(rows, predictions, args.n_boot))
        print(paired)
        text += "\n" + paired
    if args.markdown:
        args.markdown.write_text(text)
    if args.runs_csv:
        rows.to_csv(args.runs_csv, index=False)


if __name__ == "__main__":
    main()
