"""train.* options reach the Trainer and do what they say (tiny data, CPU)."""

import pytest
import yaml
from datasets import load_from_disk

from sentiment_pipeline.config import parse_params
from sentiment_pipeline.training.checkpoints import CheckpointDir
from sentiment_pipeline.training.fit import train


@pytest.fixture(scope="module")
def setup(tokenized_workspace):
    raw = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    return raw, load_from_disk(str(tokenized_workspace / "data/tokenized"))


def run(setup, tmp_path, **train_overrides):
    raw, tokenized = setup
    raw = {**raw, "train": {**raw["train"], **train_overrides}}
    params = parse_params(raw)
    return train(params, tokenized, tmp_path / "best", CheckpointDir(tmp_path / "ck", {}))


def test_early_stopping_after_patience_epochs_without_better_f1(setup, tmp_path):
    # an lr too small to change anything: validation F1 never improves after epoch 1
    result = run(setup, tmp_path, epochs=6, lr=1e-12, warmup_ratio=0.0, early_stopping_patience=2)
    assert result.metrics["epochs_run"] == 3 and result.metrics["best_epoch"] == 1


def test_gradient_accumulation_halves_the_optimizer_steps(setup, tmp_path):
    plain = run(setup, tmp_path / "a", epochs=1)
    accumulated = run(setup, tmp_path / "b", epochs=1, grad_accum_steps=2)
    assert accumulated.epochs[0]["step"] == plain.epochs[0]["step"] // 2


def test_bf16_autocast_trains_on_cpu(setup, tmp_path):
    result = run(setup, tmp_path, epochs=1, precision="bf16")
    assert result.precision == "bf16" and result.metrics["epochs_run"] == 1


def test_ungrouped_random_order_also_trains(setup, tmp_path):
    result = run(setup, tmp_path, epochs=1, group_by_length=False, max_grad_norm=0)
    assert result.metrics["epochs_run"] == 1
