"""A model folder is data: every setting read from it is on an allow-list of what
this project writes, what is loaded is what was checked, and a folder that lost
its tokenizer is refused instead of predicting on [UNK]s."""

import json
import shutil

import pytest

from sentiment_pipeline import paths
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from sentiment_pipeline.models.artifact import ModelFolderError
from sentiment_pipeline.models.kinds import load
from tests.helpers import train_workspace


@pytest.fixture(scope="module")
def tfidf_folder(tmp_path_factory, tokenized_workspace):
    root = train_workspace(tmp_path_factory.mktemp("tfidf"), tokenized_workspace, type="tfidf_logreg")
    return root / paths.MODEL_DIR


def copy(folder, tmp_path):
    shutil.copytree(folder, tmp_path / "model")
    return tmp_path / "model"


def edit_json(path, change):
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


@pytest.mark.parametrize(
    "change, words",
    [
        # input="filename" makes the vectorizer open the file each text names (/etc/hostname ...)
        (lambda s: s["vectorizer"].update(input="filename"), r"vectorizer settings \['input'\]"),
        (lambda s: s["vectorizer"].update(analyzer="char"), "analyzer='char' is not 'word'"),
        (lambda s: s["vectorizer"].update(token_pattern=".*"), "token_pattern"),
        (lambda s: s["vectorizer"].update(min_df="2"), "min_df / max_features must be positive integers"),
        (lambda s: s["logreg"].update(solver="saga"), "logreg settings must be C and max_iter only"),
        (lambda s: s.update(extra={}), "expected the keys vectorizer and logreg only"),
    ],
)
def test_a_tfidf_folder_with_settings_we_never_write_is_refused(tfidf_folder, tmp_path, change, words):
    folder = copy(tfidf_folder, tmp_path)
    edit_json(folder / "tfidf_logreg.json", change)
    with pytest.raises(PipelineInputError, match=words):
        load(folder)


def test_the_filename_trick_reads_no_file_through_any_entry_point(tfidf_folder, tmp_path, capsys):
    from sentiment_pipeline.serving.cli import main

    folder = copy(tfidf_folder, tmp_path)
    edit_json(folder / "tfidf_logreg.json", lambda s: s["vectorizer"].update(input="filename"))
    secret = tmp_path / "secret.txt"
    secret.write_text("a superb wonderful film")
    assert main(["predict", "--model", str(folder), str(secret)]) == 2
    assert "not the ones this pipeline writes" in capsys.readouterr().err
    with pytest.raises(PipelineInputError):
        SentimentAnalyzer.from_pretrained(folder)


def test_the_untouched_tfidf_folder_still_loads(tfidf_folder):
    assert SentimentAnalyzer.from_pretrained(tfidf_folder).predict("superb film").label in ("neg", "pos")


@pytest.fixture(scope="module")
def bilstm_folder(tmp_path_factory, tokenized_workspace):
    root = train_workspace(tmp_path_factory.mktemp("bilstm"), tokenized_workspace, type="bilstm")
    return root / paths.MODEL_DIR


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: c.update(auto_map={"AutoModel": "evil.Model"}), "asks to run its own code"),
        (lambda c: c.update(output_hidden_states=True), "unknown setting 'output_hidden_states'"),
        (lambda c: c.update(hidden_size=10**9), r"hidden_size=1000000000 is not an integer in \[1, 8,192\]"),
        (lambda c: c.update(dropout=1.5), r"dropout=1.5 is not in \[0, 1\)"),
        (lambda c: c.update(model_type="bert"), "not the config of a bilstm model"),
    ],
)
def test_a_bilstm_config_outside_what_we_write_is_refused(bilstm_folder, tmp_path, change, words):
    folder = copy(bilstm_folder, tmp_path)
    edit_json(folder / "config.json", change)
    with pytest.raises(ModelFolderError, match=words):
        load(folder)


def test_a_folder_without_its_tokenizer_is_refused(trained_workspace, tmp_path):
    folder = copy(trained_workspace / paths.MODEL_DIR, tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelFolderError, match="has no tokenizer.json: its tokenizer is missing"):
        SentimentAnalyzer.from_pretrained(folder)


def test_a_replaced_tokenizer_is_refused(trained_workspace, tmp_path):
    from tokenizers import Tokenizer, models

    folder = copy(trained_workspace / paths.MODEL_DIR, tmp_path)
    # a decoy: a tokenizer.json of the right name that knows five tokens
    Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4}, unk_token="[UNK]")).save(
        str(folder / "tokenizer.json")
    )
    with pytest.raises(ModelFolderError, match="is not the tokenizer this model was trained with"):
        load(folder)


def test_weights_are_read_from_safetensors_only_never_a_pickle(trained_workspace, tmp_path, monkeypatch):
    import torch

    folder = copy(trained_workspace / paths.MODEL_DIR, tmp_path)
    state = {k: v.clone() for k, v in load(folder).model.state_dict().items()}
    (folder / "model.safetensors").rename(folder / "decoy.safetensors")  # a file of the right suffix
    torch.save(state, folder / "pytorch_model.bin")  # and a pickle beside it

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load was called on a model folder")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(ModelFolderError, match="corrupted or incomplete model folder"):
        load(folder)
