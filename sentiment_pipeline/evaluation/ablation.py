"""The loss ablation's tables: length_weight x confidence_penalty x seeds, from
`dvc exp show --json` records (dvc_experiments.py), and each setting against
the baseline (both terms 0) on the same test reviews, seed paired with seed:
McNemar's exact test and paired bootstrap intervals (paired.py). The CLI is
tools/loss_ablation.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sentiment_pipeline import paths
from sentiment_pipeline.dvc_experiments import finished_experiments, get
from sentiment_pipeline.evaluation.paired import accuracy, ece, mcnemar, paired_bootstrap

PREFIX = "abl-"
METRICS = ("accuracy", "f1", "ece", "brier", "log_loss")
COLUMNS = ["experiment", "length_weight", "confidence_penalty", "seed", *METRICS]


def experiment_rows(exp_show: list[dict], prefix: str = PREFIX) -> pd.DataFrame:
    """One row per finished experiment named prefix*: its loss settings, seed and
    test metrics, from the structure `dvc exp show --json` prints (DVC 3)."""
    rows = [
        _row(
            name,
            get(params, "train", "loss", "length_weight"),
            get(params, "train", "loss", "confidence_penalty"),
            get(params, "train", "seed"),
            metrics["metrics/eval.json"],
        )
        for name, params, metrics in finished_experiments(exp_show, prefix)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(name: str, length_weight: float, penalty: float, seed: int, evaluation: dict) -> dict:
    return dict(zip(COLUMNS, [name, length_weight, penalty, seed, *(evaluation.get(m) for m in METRICS)]))


def reported_rows(entries: list[dict], out: Path) -> pd.DataFrame:
    """Rows like experiment_rows' for runs exported earlier to out/<experiment>/
    (experiment_reports.reported_runs): settings from the summary entry, metrics
    from the folder's eval.json."""
    rows = [
        _row(
            e["experiment"],
            e["length_weight"],
            e["confidence_penalty"],
            e["seed"],
            json.loads((Path(out) / e["experiment"] / "eval.json").read_text()),
        )
        for e in entries
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


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


PREDICTIONS = str(paths.PREDICTIONS)


def load_predictions(
    names: list[str], revs: dict[str, str], folder: Path | None, files: dict[str, Path] | None = None
) -> dict[str, pd.DataFrame]:
    """Each experiment's per-review predictions: files[name] if given, else
    <folder>/<name>.csv, else its reports/predictions.csv from the DVC cache at
    the experiment's commit."""
    out = {}
    for name in names:
        if files and name in files:
            out[name] = pd.read_csv(files[name])
            continue
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


def _interval_says(name: str, low: float, high: float) -> str:
    if low > 0:
        return f"{name} higher (worse)"
    if high < 0:
        return f"{name} lower (better)"
    return f"no detectable change in {name}"


def verdict(paired: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """One plain sentence per loss setting against loss off, from the paired table:
    accuracy by McNemar's test at `alpha`, calibration by whether the 95% bootstrap
    interval of the ECE difference excludes 0."""
    lines = []
    for r in paired.to_dict(orient="records"):
        setting = f"length_weight={r['length_weight']:g}, confidence_penalty={r['confidence_penalty']:g}"
        delta = f"{100 * r['d_accuracy']:+.2f} points"
        if r["mcnemar_p"] < alpha:
            accuracy_says = (
                f"{'raises' if r['d_accuracy'] > 0 else 'lowers'} accuracy ({delta}, p = {r['mcnemar_p']:.3g})"
            )
        else:
            accuracy_says = f"changes accuracy by no detectable amount ({delta}, p = {r['mcnemar_p']:.2f})"
        calibration = _interval_says("ECE", r["d_ece_low"], r["d_ece_high"])
        scaled = _interval_says("ECE after temperature scaling", r["d_ece_scaled_low"], r["d_ece_scaled_high"])
        lines.append(f"{setting} against loss off ({r['pairs']} seed pairs): {accuracy_says}; {calibration}; {scaled}.")
    return lines
