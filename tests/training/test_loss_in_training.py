"""Training really optimises SentimentWeightedLoss: every logged step loss is the
custom loss recomputed on the very logits and reviews of that step (and not plain
cross-entropy), gradient accumulation averages it, and validation reports it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from datasets import load_from_disk
from transformers import TrainerCallback

from sentiment_pipeline.config import parse_params
from sentiment_pipeline.paths import LABEL, N_WORDS
from sentiment_pipeline.training.checkpoints import CheckpointDir
from sentiment_pipeline.training.fit import train
from sentiment_pipeline.training.loss import SentimentWeightedLoss


class StepRecorder(TrainerCallback):
    """Records what each optimizer step saw: the logits of every training forward
    pass (one per micro-batch), the ids they were computed from, and the loss the
    Trainer logged for the step (logging_steps=1)."""

    def __init__(self) -> None:
        self.micro_batches: list[tuple[torch.Tensor, torch.Tensor]] = []  # (unpadded ids per row, logits)
        self.step_ends: list[int] = []  # len(micro_batches) when each optimizer step ended
        self.logged: dict[int, float] = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        def hook(module, _args, inputs, output):
            if module.training:
                ids = [row[mask.bool()].tolist() for row, mask in zip(inputs["input_ids"], inputs["attention_mask"])]
                self.micro_batches.append((ids, output.logits.detach().float()))

        model.register_forward_hook(hook, with_kwargs=True)

    def on_step_end(self, args, state, control, **kwargs):
        self.step_ends.append(len(self.micro_batches))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.logged[state.global_step] = logs["loss"]


@pytest.fixture(scope="module")
def setup(tokenized_workspace):
    raw = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    tokenized = load_from_disk(str(tokenized_workspace / "data/tokenized"))
    train_split = tokenized["train"]
    rows: dict[tuple, tuple[int, int]] = {}
    for ids, label, n_words in zip(train_split["input_ids"], train_split[LABEL], train_split[N_WORDS]):
        assert rows.setdefault(tuple(ids), (label, n_words)) == (label, n_words), "two reviews encode alike"
    return raw, tokenized, rows


def run(setup, tmp_path, loss: dict, **train_overrides):
    raw, tokenized, _ = setup
    train_cfg = {**raw["train"], "epochs": 1, "logging_steps": 1, "loss": {**raw["train"]["loss"], **loss}}
    params = parse_params({**raw, "train": {**train_cfg, **train_overrides}})
    recorder = StepRecorder()
    result = train(params, tokenized, tmp_path / "best", CheckpointDir(tmp_path / "ck", {}), callbacks=[recorder])
    return params, recorder, result


def recompute(setup, recorder: StepRecorder, loss_fn: SentimentWeightedLoss) -> list[tuple[float, float, float]]:
    """(logged, custom loss recomputed, plain cross-entropy) for each optimizer step."""
    _, _, rows = setup
    out, start = [], 0
    for step, end in enumerate(recorder.step_ends, start=1):
        custom, plain = [], []
        for ids, logits in recorder.micro_batches[start:end]:
            labels, lengths = (torch.tensor(col) for col in zip(*(rows[tuple(r)] for r in ids)))
            custom.append(loss_fn(logits, labels, lengths).item())
            plain.append(F.cross_entropy(logits, labels).item())
        out.append((recorder.logged[step], float(np.mean(custom)), float(np.mean(plain))))
        start = end
    return out


@pytest.mark.parametrize(
    "loss, overrides",
    [
        # ungrouped batches mix lengths, so a batch-normalised length weight is far from 1
        ({"length_weight": 1.0, "confidence_penalty": 0.0, "length_norm": "batch"}, {"group_by_length": False}),
        ({"length_weight": 0.0, "confidence_penalty": 2.0}, {}),
        ({"length_weight": 0.5, "confidence_penalty": 1.0, "length_norm": "dataset"}, {}),  # the defaults
    ],
    ids=["length-batch-norm", "confidence-penalty", "default-loss"],
)
def test_each_logged_step_loss_is_the_custom_loss_of_that_step(setup, tmp_path, loss, overrides):
    params, recorder, _ = run(setup, tmp_path, loss, **overrides)
    cfg = params.train.loss
    train_lengths = torch.tensor(setup[1]["train"][N_WORDS])
    reference = SentimentWeightedLoss.reference_for(train_lengths, cfg.length_weight)
    loss_fn = SentimentWeightedLoss(cfg.length_weight, cfg.confidence_penalty, cfg.length_norm, reference)
    steps = recompute(setup, recorder, loss_fn)
    assert len(steps) == len(recorder.logged) >= 10
    for logged, custom, _ in steps:
        assert logged == pytest.approx(custom, rel=1e-5, abs=1e-6)
    # and plain cross-entropy would have logged something else, at 100 times that tolerance
    assert np.median([abs(logged - plain) for logged, _, plain in steps]) > 1e-3


def test_gradient_accumulation_averages_the_custom_loss_over_micro_batches(setup, tmp_path):
    loss = {"length_weight": 1.0, "confidence_penalty": 2.0, "length_norm": "batch"}
    _, recorder, result = run(setup, tmp_path, loss, grad_accum_steps=2, group_by_length=False)
    sizes = np.diff([0, *recorder.step_ends])
    assert sizes[:-1].tolist() == [2] * (len(sizes) - 1) and sizes[-1] in (1, 2)
    steps = recompute(setup, recorder, SentimentWeightedLoss(1.0, 2.0, "batch"))
    for logged, custom, _ in steps:
        # the mean of the micro-batch losses, not their sum: the Trainer divides each by 2 before backward
        assert logged == pytest.approx(custom, rel=1e-5, abs=1e-6)
    assert result.epochs[0]["step"] == len(steps)


def test_validation_loss_is_the_custom_loss_and_log_loss_is_plain(setup, tmp_path):
    # off: the Trainer's val_loss (compute_loss over validation batches) equals scikit-learn's log loss
    _, _, plain = run(setup, tmp_path / "off", {"length_weight": 0.0, "confidence_penalty": 0.0})
    row = plain.epochs[0]
    assert row["val_loss"] == pytest.approx(row["val_log_loss"], rel=1e-4)
    # on: the weighted loss, which the confidence penalty can only raise above the log loss
    _, _, weighted = run(setup, tmp_path / "on", {"length_weight": 0.0, "confidence_penalty": 2.0})
    row = weighted.epochs[0]
    assert row["val_loss"] > row["val_log_loss"] * 1.05
