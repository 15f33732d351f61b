"""What training leaves behind is what it claims: the best epoch's weights, a
temperature fitted on validation, each epoch's own train loss, and TF-IDF refits
that keep the length weights. Each expected value is recomputed here."""

import numpy as np
import pytest
import torch
import yaml
from datasets import load_from_disk
from safetensors.torch import load_file
from transformers import TrainerCallback

from sentiment_pipeline.config import parse_params
from sentiment_pipeline.evaluation.calibration import fit_temperature
from sentiment_pipeline.inference.predictor import predict_folder
from sentiment_pipeline.models.artifact import ModelArtifact
from sentiment_pipeline.training.checkpoints import CheckpointDir
from sentiment_pipeline.training.fit import train


class EpochWeights(TrainerCallback):
    """A copy of every weight at the end of each epoch."""

    def __init__(self) -> None:
        self.by_epoch: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self.by_epoch.append({k: v.detach().clone() for k, v in model.state_dict().items()})


@pytest.fixture(scope="module")
def run(tokenized_workspace, tmp_path_factory):
    """4 epochs at an lr where validation F1 peaks at epoch 2 (later epochs tie it,
    and the earliest best is kept), logging every step."""
    raw = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    train_params = {**raw["train"], "epochs": 4, "lr": 3e-3, "warmup_ratio": 0.0, "logging_steps": 1}
    params = parse_params({**raw, "train": train_params})
    tokenized = load_from_disk(str(tokenized_workspace / "data/tokenized"))
    out = tmp_path_factory.mktemp("outcome")
    weights = EpochWeights()
    result = train(params, tokenized, out / "best", CheckpointDir(out / "ck", {}), callbacks=[weights])
    return result, weights.by_epoch, out / "best", tokenized


def test_the_saved_weights_are_the_best_epochs_not_the_last(run):
    result, by_epoch, model_dir, _ = run
    best = result.metrics["best_epoch"]
    assert best < len(by_epoch) == 4  # the premise: the best epoch is not the last one
    saved = load_file(model_dir / "model.safetensors")
    names = [n for n in saved if n in by_epoch[0]]
    assert len(names) > 10
    assert all(torch.equal(saved[n], by_epoch[best - 1][n]) for n in names)
    assert not all(torch.equal(saved[n], by_epoch[-1][n]) for n in names)


def test_the_temperature_is_fitted_on_the_validation_split(tokenized_workspace, tmp_path, monkeypatch):
    from sentiment_pipeline.training import fit as fit_module

    seen = []

    def spy(margins, labels):
        seen.append((np.asarray(margins).copy(), np.asarray(labels).copy()))
        return fit_temperature(margins, labels)

    monkeypatch.setattr(fit_module, "fit_temperature", spy)
    raw = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    params = parse_params({**raw, "train": {**raw["train"], "epochs": 1}})
    tokenized = load_from_disk(str(tokenized_workspace / "data/tokenized"))
    train(params, tokenized, tmp_path / "best", CheckpointDir(tmp_path / "ck", {}))
    ((margins, labels),) = seen
    val_margins, _ = predict_folder(tmp_path / "best", tokenized["validation"])  # the saved model on validation
    val_labels = np.asarray(tokenized["validation"]["label"])
    np.testing.assert_allclose(np.sort(margins), np.sort(val_margins), atol=1e-5)
    assert sorted(labels) == sorted(val_labels)
    assert ModelArtifact.read(tmp_path / "best").temperature == pytest.approx(
        fit_temperature(val_margins, val_labels), abs=2e-5
    )


def test_each_epochs_train_loss_is_the_mean_of_its_own_steps(run):
    result, _, _, _ = run
    ends = [0] + [row["step"] for row in result.epochs]
    losses = {row["step"]: row["loss"] for row in result.steps}
    for k, row in enumerate(result.epochs):
        own = [loss for step, loss in losses.items() if ends[k] < step <= ends[k + 1]]
        assert row["train_loss"] == pytest.approx(np.mean(own))
    so_far = [loss for step, loss in losses.items() if step <= ends[2]]
    assert result.epochs[1]["train_loss"] != pytest.approx(np.mean(so_far))  # the two readings differ here


def test_tfidf_penalty_refits_keep_the_length_weights(tokenized_workspace):
    from sentiment_pipeline.models.tfidf import build_pipeline
    from sentiment_pipeline.models.tfidf_kind import count_words, fit
    from sentiment_pipeline.training.fit import dataset_loss

    raw = yaml.safe_load((tokenized_workspace / "params.yaml").read_text())
    raw["model"]["type"] = "tfidf_logreg"
    raw["train"]["loss"] = {"length_weight": 1.0, "confidence_penalty": 2.0, "length_norm": "dataset"}
    params = parse_params(raw)
    from sentiment_pipeline.data.encoding import read_parquet

    ds = count_words(read_parquet(tokenized_workspace / "data/clean/train.parquet"))
    texts, labels, words = list(ds["text"]), np.asarray(ds["label"]), np.asarray(ds["n_words"], dtype=float)
    model = fit(params, ds, dataset_loss(params, ds))

    # the same fixed point, by hand: w = L / mean(L); c = 1 + 2 p(wrong prediction)
    length_w = np.maximum(words, 1) / np.maximum(words, 1).mean()
    expected = build_pipeline(params)
    expected.fit(texts, labels, logreg__sample_weight=length_w)
    features = expected.named_steps["tfidf"].transform(texts)
    for _ in range(params.model.tfidf_logreg.penalty_refits):
        prob = expected.named_steps["logreg"].predict_proba(features)
        wrong = prob.argmax(axis=1) != labels
        expected.named_steps["logreg"].fit(features, labels, sample_weight=length_w * (1 + 2.0 * prob.max(1) * wrong))
    got, want = model.named_steps["logreg"].coef_, expected.named_steps["logreg"].coef_
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    unweighted_refits = build_pipeline(params).fit(texts, labels, logreg__sample_weight=length_w)
    for _ in range(params.model.tfidf_logreg.penalty_refits):  # the mutation: refits without the length weights
        prob = unweighted_refits.named_steps["logreg"].predict_proba(features)
        wrong = prob.argmax(axis=1) != labels
        unweighted_refits.named_steps["logreg"].fit(features, labels, sample_weight=1 + 2.0 * prob.max(1) * wrong)
    gap = np.abs(unweighted_refits.named_steps["logreg"].coef_ - want).max()
    assert gap > 100 * 1e-5 * np.abs(want).max()  # so the comparison above tells the two apart
