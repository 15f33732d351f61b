"""Inference speed: SentimentAnalyzer.predict_batch against transformers.pipeline.

One run on this machine, the same fine-tuned model and the same max_length for
all, on --n real IMDB test reviews (a label-stratified sample, HTML cleaned as
the pipeline does):

- `transformers.pipeline("text-classification")` as it is usually called
  (one review at a time, its default) and with batch_size set;
- `predict_batch`: length-sorted batches, dynamic padding, inference_mode;
- `predict_batch` on the dynamically int8-quantized model (CPU).

Prints reviews/s, the ratio to the pipeline and test accuracy for each (the
int8 model must stay within 0.5 points of fp32); --json writes the figures.
Last, the model's forward pass alone on random tokens at batch 1 and batch 32
(tokens/s): it tells whether this machine is compute-bound, where batching
cannot help, or overhead-bound, where it does (a GPU; --device cuda).

    python bench/inference.py --data datasets/imdb --model models/best
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import pipeline

from sentiment_pipeline.data.text import clean_text
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer


def sample_test(data: Path, n: int, seed: int) -> pd.DataFrame:
    test = pd.concat(pd.read_parquet(p) for p in sorted((data / "plain_text").glob("test-*.parquet")))
    per_label = n // 2
    parts = [g.sample(per_label, random_state=seed) for _, g in test.groupby("label")]
    return pd.concat(parts).sample(frac=1, random_state=seed).reset_index(drop=True)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="IMDB folder in the Hub layout")
    parser.add_argument("--model", type=Path, required=True, help="a model folder the train stage wrote")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (int8 runs too) or cuda")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def record(results: dict, name: str, prob_pos: np.ndarray, labels: np.ndarray, seconds: float) -> None:
    """Store one method's speed and accuracy under `name`, and print them."""
    results[name] = {
        "seconds": round(seconds, 2),
        "reviews_per_s": round(len(labels) / seconds, 2),
        "accuracy": float(((prob_pos >= 0.5).astype(int) == labels).mean()),
    }
    print(
        f"{name:<32} {results[name]['reviews_per_s']:>8.2f} reviews/s  accuracy {results[name]['accuracy']:.4f}",
        flush=True,
    )


def time_pipelines(args: argparse.Namespace, texts: list[str], labels: np.ndarray, results: dict) -> None:
    """transformers.pipeline one review at a time (its default), then with batch_size set."""
    clf = pipeline(
        "text-classification",
        model=str(args.model),
        device=args.device,
        truncation=True,
        max_length=args.max_length,
        top_k=None,
    )
    pos_label = clf.model.config.id2label[1]

    def pipeline_proba(batch_size: int | None) -> np.ndarray:
        kwargs = {"batch_size": batch_size} if batch_size else {}
        outputs = clf(texts, **kwargs)
        return np.array([next(s["score"] for s in out if s["label"] == pos_label) for out in outputs])

    with torch.inference_mode():
        prob, secs = timed(lambda: pipeline_proba(None))
    record(results, "pipeline (one at a time)", prob, labels, secs)
    with torch.inference_mode():
        prob, secs = timed(lambda: pipeline_proba(args.batch_size))
    record(results, f"pipeline (batch_size={args.batch_size})", prob, labels, secs)


def time_analyzers(args: argparse.Namespace, texts: list[str], labels: np.ndarray, results: dict) -> SentimentAnalyzer:
    """predict_batch in fp32, and on CPU on the int8 model too; returns the fp32 analyzer."""
    fp32 = SentimentAnalyzer.from_pretrained(args.model, device=args.device, max_length=args.max_length)
    fp32.predict_proba(texts[:8])  # warm-up (CUDA context, kernels)
    prob, secs = timed(lambda: fp32.predict_proba(texts, batch_size=args.batch_size))
    record(results, "predict_batch fp32", prob, labels, secs)
    if args.device == "cpu":
        int8 = SentimentAnalyzer.from_pretrained(args.model, device="cpu", quantize="int8", max_length=args.max_length)
        prob, secs = timed(lambda: int8.predict_proba(texts, batch_size=args.batch_size))
        record(results, "predict_batch int8", prob, labels, secs)
    return fp32


def print_summary(results: dict, forward: dict[str, float], on_cpu: bool) -> None:
    """The Markdown table against the one-at-a-time pipeline, the int8 change and the bare forward pass."""
    base = results["pipeline (one at a time)"]["reviews_per_s"]
    print()
    print("| method | reviews/s | vs pipeline (one at a time) | test accuracy |")
    print("| --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['reviews_per_s']:.2f} | {r['reviews_per_s'] / base:.2f}x | {r['accuracy']:.4f} |")
    if on_cpu:
        drop = results["predict_batch fp32"]["accuracy"] - results["predict_batch int8"]["accuracy"]
        print(f"\nint8 accuracy change vs fp32: {-drop * 100:+.2f} points")
    print("\nforward pass alone, tokens/s:", ", ".join(f"{k} {v:,.0f}" for k, v in forward.items()))


def run_meta(args: argparse.Namespace, n_texts: int) -> dict:
    return {
        "n": n_texts,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "model": str(args.model),
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    args = parse_args()
    reviews = sample_test(args.data, args.n, args.seed)
    texts = [clean_text(t) for t in reviews["text"]]
    labels = reviews["label"].to_numpy()
    results: dict[str, dict[str, float]] = {}
    time_pipelines(args, texts, labels, results)
    fp32 = time_analyzers(args, texts, labels, results)
    forward = forward_tokens_per_s(fp32.model, args.device)
    print_summary(results, forward, on_cpu=args.device == "cpu")
    meta = run_meta(args, len(texts))
    if args.json:
        args.json.write_text(
            json.dumps({"meta": meta, "results": results, "forward_tokens_per_s": forward}, indent=2) + "\n"
        )


def forward_tokens_per_s(model, device: str, length: int = 256) -> dict[str, float]:
    """Tokens/s of the bare forward pass at batch 1 and 32 (random ids, no padding)."""
    out = {}
    for batch in (1, 32):
        ids = torch.randint(1000, 2000, (batch, length), device=device)
        reps = max(1, 64 // batch)
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=torch.ones_like(ids))
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(reps):
                model(input_ids=ids, attention_mask=torch.ones_like(ids))
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        out[f"batch {batch}"] = round(batch * length * reps / (time.perf_counter() - start), 1)
    return out


if __name__ == "__main__":
    main()
