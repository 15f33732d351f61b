"""Same params and data -> the same training and predictions, run to run (CPU)."""

import numpy as np
import pytest
import yaml
from datasets import load_from_disk
from safetensors.torch import load_file

from sentiment_pipeline.config import parse_params
from sentiment_pipeline.inference.predictor import predict_folder as predict_proba
from sentiment_pipeline.training.checkpoints import CheckpointDir
from sentiment_pipeline.training.fit import train

TIMING = ("epoch_time_s", "epoch_examples_per_s", "step_time_s")


@pytest.fixture(scope="module")
def twice(tokenized_workspace, tmp_path_factory):
    """The same training run twice, and each model's test predictions."""
    tmp_path = tmp_path_factory.mktemp("determinism")
    params = parse_params(yaml.safe_load((tokenized_workspace / "params.yaml").read_text()))
    tokenized = load_from_disk(str(tokenized_workspace / "data/tokenized"))
    outcomes = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        result = train(params, tokenized, out / "best", CheckpointDir(out / "checkpoints", {}))
        prob, _ = predict_proba(out / "best", tokenized["test"], batch_size=16)
        outcomes.append((result, load_file(out / "best/model.safetensors"), prob))
    return outcomes, tokenized["test"], tmp_path / "run0" / "best"


def test_two_trainings_are_identical(twice):
    outcomes, _, _ = twice
    (first, w1, p1), (second, w2, p2) = outcomes
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]
    assert strip(first.epochs) == strip(second.epochs)
    assert first.steps == second.steps
    assert all((w1[name] == w2[name]).all() for name in w1)
    np.testing.assert_array_equal(p1, p2)


def test_predictions_come_back_in_input_order(twice):
    # predict_proba runs longest first; its outputs must still line up with its input rows
    outcomes, test, model_dir = twice
    batched = outcomes[0][2]
    rows = list(range(0, len(test), 7))
    one_by_one = np.array([predict_proba(model_dir, test.select([i]), batch_size=1)[0][0] for i in rows])
    assert np.ptp(one_by_one) > 0.01  # distinct outputs, so a mix-up would show
    np.testing.assert_allclose(batched[rows], one_by_one, atol=1e-5)


def test_two_bf16_trainings_are_identical_too(tokenized_workspace, tmp_path):
    # bf16 autocast on the CPU (the default where it has AMX / AVX512-BF16) is as repeatable
    raw = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params = parse_params({**raw, "train": {**raw["train"], "precision": "bf16", "epochs": 1}})
    tokenized = load_from_disk(str(tokenized_workspace / "data/tokenized"))
    weights, predictions = [], []
    for i in range(2):
        out = tmp_path / f"run{i}"
        result = train(params, tokenized, out / "best", CheckpointDir(out / "checkpoints", {}))
        assert result.precision == "bf16"
        weights.append(load_file(out / "best/model.safetensors"))
        predictions.append(predict_proba(out / "best", tokenized["test"], batch_size=16, dtype="bf16")[0])
    assert all((weights[0][name] == weights[1][name]).all() for name in weights[0])
    np.testing.assert_array_equal(*predictions)
