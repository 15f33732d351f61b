import pytest
from datasets import ClassLabel

from sentiment_pipeline.data.loading import DataError, load_labelled, stratified_subset
from sentiment_pipeline.data.sources import SourceError
from tests.fixtures import make_imdb_like


def test_load_local_folder_in_hub_layout(imdb_dir):
    splits = load_labelled(str(imdb_dir))
    assert set(splits) == {"train", "test"}  # the unlabelled split is not used
    assert splits["train"].column_names == ["text", "label"]
    assert isinstance(splits["train"].features["label"], ClassLabel)
    assert splits["train"].features["label"].names == ["neg", "pos"]
    assert len(splits["train"]) == 123 and len(splits["test"]) == 60


def test_two_local_folders_are_not_confused(imdb_dir, tmp_path):
    # datasets 5 caches card-config folders by config name only; we must not
    other = make_imdb_like(tmp_path / "imdb", n_train=40, n_test=20, seed=5)
    assert len(load_labelled(str(other))["train"]) == 43
    assert len(load_labelled(str(imdb_dir))["train"]) == 123


def test_stratified_subset(imdb_dir):
    train = load_labelled(str(imdb_dir))["train"]
    subset = stratified_subset(train, 40, seed=3, what="data.train_size")
    assert len(subset) == 40 and sum(subset["label"]) == 20
    assert stratified_subset(train, 40, seed=3, what="x")["text"] == subset["text"]
    assert stratified_subset(train, None, seed=3, what="x") is train


def test_subset_larger_than_data_is_an_error(imdb_dir):
    train = load_labelled(str(imdb_dir))["train"]
    with pytest.raises(DataError, match="data.train_size=500 is larger than the 123 rows"):
        stratified_subset(train, 500, seed=0, what="data.train_size")


def test_missing_local_path_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="data.source .* no such folder"):
        load_labelled(str(tmp_path / "missing"))


def test_unexpected_labels_are_rejected(tmp_path):
    import pandas as pd

    root = make_imdb_like(tmp_path / "bad", n_train=10, n_test=10)
    path = root / "plain_text" / "test-00000-of-00001.parquet"
    df = pd.read_parquet(path)
    df.loc[0, "label"] = 7
    df.to_parquet(path, index=False)
    (root / "README.md").unlink()  # no card: labels are plain integers
    with pytest.raises(DataError, match=r"labels must be 0 \(neg\) or 1 \(pos\), found \[7\]"):
        load_labelled(str(root))
