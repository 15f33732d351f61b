"""train.* options reach the Trainer and do what they say (tiny data, CPU)."""

import numpy as np
import pytest
import torch
import yaml
from datasets import load_from_disk
from transformers import TrainerCallback

from sentiment_pipeline.config import parse_params
from sentiment_pipeline.training.checkpoints import CheckpointDir
from sentiment_pipeline.training.fit import train

pytestmark = pytest.mark.slow  # each test trains a model (seconds each)


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


class ForwardRecorder(TrainerCallback):
    """What each training forward pass saw and gave: the real length of each row,
    and the dtype the classification head computed in."""

    def __init__(self) -> None:
        self.logit_dtypes: set[torch.dtype] = set()  # of the classification head's output
        self.batch_lengths: list[list[int]] = []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        def hook(module, _args, inputs, output):
            if module.training:
                self.batch_lengths.append(inputs["attention_mask"].sum(dim=1).tolist())

        def head_hook(module, _args, output):
            if module.training:  # inside the autocast region (the Trainer casts the model's output back to fp32)
                self.logit_dtypes.add(output.dtype)

        model.register_forward_hook(hook, with_kwargs=True)
        [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1].register_forward_hook(head_hook)


def recorded(setup, tmp_path, **train_overrides) -> ForwardRecorder:
    recorder = ForwardRecorder()
    raw, tokenized = setup
    params = parse_params({**raw, "train": {**raw["train"], "epochs": 1, **train_overrides}})
    train(params, tokenized, tmp_path / "best", CheckpointDir(tmp_path / "ck", {}), callbacks=[recorder])
    return recorder


def test_bf16_runs_the_forward_pass_under_bf16_autocast_on_cpu(setup, tmp_path):
    assert recorded(setup, tmp_path / "bf16", precision="bf16").logit_dtypes == {torch.bfloat16}
    assert recorded(setup, tmp_path / "fp32", precision="fp32").logit_dtypes == {torch.float32}


def test_length_grouping_on_and_off_changes_how_alike_the_batch_lengths_are(setup, tmp_path):
    def spread(recorder):  # mean gap between the longest and the shortest review of a batch, in tokens
        return np.mean([max(lengths) - min(lengths) for lengths in recorder.batch_lengths])

    grouped = spread(recorded(setup, tmp_path / "grouped", group_by_length=True))
    ungrouped = spread(recorded(setup, tmp_path / "ungrouped", group_by_length=False))
    assert grouped < 0.5 * ungrouped


def test_max_grad_norm_zero_turns_clipping_off(setup, tmp_path, monkeypatch):
    from sentiment_pipeline.training.trainer import WeightedLossTrainer

    clipped_to: list[float] = []
    clip = WeightedLossTrainer._clip_grad_norm

    def spy(self, model):
        clipped_to.append(self.args.max_grad_norm)
        return clip(self, model)

    monkeypatch.setattr(WeightedLossTrainer, "_clip_grad_norm", spy)
    recorded(setup, tmp_path / "noclip", max_grad_norm=0)
    assert clipped_to == []
    recorded(setup, tmp_path / "clip", max_grad_norm=0.5)
    assert len(clipped_to) > 10 and set(clipped_to) == {0.5}


def built(setup, **overrides):
    from sentiment_pipeline.data.encoding import load_tokenizer
    from sentiment_pipeline.training.fit import build_network

    raw, _ = setup
    model = {**raw["model"], **overrides.pop("model", {})}
    params = parse_params({**raw, "model": model, "train": {**raw["train"], **overrides}})
    return build_network(params, load_tokenizer(params.model.name))


def test_dropout_params_reach_the_models_config_and_null_keeps_the_checkpoints(setup, tiny_model_dir):
    import json

    own = json.loads((tiny_model_dir / "config.json").read_text())
    config = built(setup, model={"hidden_dropout": 0.05, "attention_dropout": 0.0}).config
    assert (config.hidden_dropout_prob, config.attention_probs_dropout_prob) == (0.05, 0.0)
    config = built(setup, model={"hidden_dropout": None, "attention_dropout": None}).config
    assert config.hidden_dropout_prob == own["hidden_dropout_prob"]
    assert config.attention_probs_dropout_prob == own["attention_probs_dropout_prob"]
    assert own["attention_probs_dropout_prob"] != 0.0  # so the 0.0 above came from the param


def test_the_attention_kernel_follows_the_precision(setup):
    assert built(setup, precision="bf16").config._attn_implementation == "eager"
    assert built(setup, precision="fp32").config._attn_implementation == "sdpa"
    assert built(setup, precision="bf16", attn_implementation="sdpa").config._attn_implementation == "sdpa"


def test_frozen_embeddings_stay_the_checkpoints_and_the_rest_trains(setup, tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    base = load_file(tiny_model_dir / "model.safetensors")
    key = next(k for k in base if k.endswith("word_embeddings.weight"))

    def trained(name, freeze):
        run(setup, tmp_path / name, epochs=1, freeze_embeddings=freeze)
        return load_file(tmp_path / name / "best" / "model.safetensors")

    frozen, unfrozen = trained("frozen", True), trained("unfrozen", False)
    saved_key = next(k for k in frozen if k.endswith("word_embeddings.weight"))
    assert torch.equal(frozen[saved_key], base[key])
    assert not torch.equal(unfrozen[saved_key], base[key])
    layer = next(k for k in frozen if "layer.0" in k and k.endswith("weight"))
    assert not torch.equal(frozen[layer], base[layer.removeprefix("bert.")])


class Observed(TrainerCallback):
    def __init__(self) -> None:
        self.deterministic: list[bool] = []
        self.checkpoints: list[int] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.deterministic.append(torch.are_deterministic_algorithms_enabled())

    def on_step_end(self, args, state, control, **kwargs):
        from pathlib import Path

        self.checkpoints.append(len(list(Path(args.output_dir).glob("checkpoint-*"))))


@pytest.mark.parametrize("first, second", [(True, False), (False, True)])
def test_deterministic_turns_torchs_deterministic_algorithms_on_and_off(setup, tmp_path, first, second):
    seen = Observed()
    raw, tokenized = setup
    for i, flag in enumerate((first, second)):
        params = parse_params({**raw, "train": {**raw["train"], "epochs": 1, "deterministic": flag}})
        train(
            params, tokenized, tmp_path / f"{i}" / "best", CheckpointDir(tmp_path / f"{i}" / "ck", {}), callbacks=[seen]
        )
    assert seen.deterministic == [first, second]


def test_checkpoints_are_rotated_to_the_latest_and_the_best(setup, tmp_path):
    seen = Observed()
    raw, tokenized = setup
    params = parse_params({**raw, "train": {**raw["train"], "epochs": 3, "checkpoint_every_steps": 2}})
    train(params, tokenized, tmp_path / "best", CheckpointDir(tmp_path / "ck", {}), callbacks=[seen])
    assert max(seen.checkpoints) == 2 and len(seen.checkpoints) > 10  # many saves, never more than two kept
    assert not list((tmp_path / "ck").glob("checkpoint-*"))  # a finished training leaves none
