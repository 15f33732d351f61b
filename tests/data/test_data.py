import pandas as pd
import pyarrow as pa
import pytest
from datasets import ClassLabel

from sentiment_pipeline.data.loading import DataError, load_labelled, stratified_subset
from sentiment_pipeline.data.sources import SourceError
from tests.fixtures import make_imdb_like


def test_load_local_folder_in_hub_layout(imdb_dir):
    splits = load_labelled(str(imdb_dir))
    assert set(splits) == {"train", "test"}  # the unlabelled split is not used
    assert splits["train"].column_names == ["row", "text", "label"]
    assert isinstance(splits["train"].features["label"], ClassLabel)
    assert splits["train"].features["label"].names == ["neg", "pos"]
    assert len(splits["train"]) == 123 and len(splits["test"]) == 61
    # the unlabelled rows (-1) are gone from both splits; each kept row names its source row
    for split in ("train", "test"):
        source = pd.read_parquet(imdb_dir / f"plain_text/{split}-00000-of-00001.parquet")
        assert (source["label"] == -1).sum() == 1
        rows = list(splits[split]["row"])
        assert rows == [i for i, label in enumerate(source["label"]) if label != -1]
        assert list(splits[split]["text"]) == source["text"].to_numpy()[rows].tolist()


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
    with pytest.raises(
        DataError, match=r"test-00000-of-00001.parquet: labels must be 0 \(neg\) or 1 \(pos\).*found \[7\]"
    ):
        load_labelled(str(root))


def _folder_with(tmp_path, imdb_dir, split, table):
    """A copy of the fixture dataset whose `split` parquet is replaced by `table`."""
    import shutil

    import pyarrow.parquet as pq

    folder = tmp_path / "imdb"
    shutil.copytree(imdb_dir, folder)
    pq.write_table(table, folder / "plain_text" / f"{split}-00000-of-00001.parquet")
    return folder


@pytest.mark.parametrize(
    "columns, words",
    [
        ({"text": [1, 2, 3], "label": [0, 1, 0]}, r"column 'text' holds int64, not strings"),
        ({"text": ["a", "b", "c"], "label": ["neg", "pos", "neg"]}, r"column 'label' holds string, not integer labels"),
        ({"text": ["a", None, None], "label": [0, 1, 0]}, r"2 rows have no 'text' \(missing values\)"),
        ({"text": ["a", "b\x00\x01\x02", "c"], "label": [0, 1, 0]}, r"1 rows of 'text' hold binary data"),
        ({"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())}, r"the test split has no rows"),
    ],
)
def test_dataset_files_the_loader_would_misread_are_named(tmp_path, imdb_dir, columns, words):
    folder = _folder_with(tmp_path, imdb_dir, "test", pa.table(columns))
    with pytest.raises(DataError, match=words):
        load_labelled(str(folder))


def test_an_unreadable_parquet_file_is_one_line(tmp_path, imdb_dir):
    import shutil

    folder = tmp_path / "imdb"
    shutil.copytree(imdb_dir, folder)
    (folder / "plain_text" / "test-00000-of-00001.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match="test-00000-of-00001.parquet: not a readable parquet file"):
        load_labelled(str(folder))


def test_a_dataset_folder_without_a_card_is_checked_by_its_file_names(tmp_path):
    from sentiment_pipeline.data.loading import check_dataset_folder
    from sentiment_pipeline.errors import DataError

    (tmp_path / "train.csv").write_text("text,label\ngreat,1\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test-0.jsonl").write_text('{"text": "dull", "label": 0}\n')
    check_dataset_folder(tmp_path)  # names datasets infers splits from
    (tmp_path / "data" / "test-0.jsonl").rename(tmp_path / "data" / "testing.jsonl")
    with pytest.raises(DataError, match="holds no test split"):
        check_dataset_folder(tmp_path)


def _copy_with(imdb_dir, tmp_path, change):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(imdb_dir, folder)
    change(folder)
    return folder


def _edit_train(folder, edit):
    path = folder / "plain_text/train-00000-of-00001.parquet"
    edit(pd.read_parquet(path)).to_parquet(path, index=False)


def _invalid_utf8(folder):
    import pyarrow.parquet as pq

    path = folder / "plain_text/train-00000-of-00001.parquet"
    df = pd.read_parquet(path)
    raw = [t.encode() for t in df["text"]]
    raw[2] = b"\xff\xfe not utf-8"
    text = pa.array(raw, pa.binary()).view(pa.string())  # a string column that is not valid UTF-8
    pq.write_table(pa.table({"text": text, "label": pa.array(df["label"].to_numpy())}), path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: _edit_train(f, lambda df: df.assign(label=df["label"].where(df.index != 3, 2))), r"found \[2\]"),
        (
            lambda f: ((f / "README.md").unlink(), _edit_train(f, lambda df: df.drop(columns=["label"]))),
            "no column 'label'",
        ),
        (_invalid_utf8, "column 'text' is not valid UTF-8 text"),
    ],
    ids=["label-outside-0-1-with-the-card", "no-label-column-no-card", "invalid-utf-8"],
)
def test_bad_split_files_are_named_before_datasets_reads_them(imdb_dir, tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        load_labelled(str(_copy_with(imdb_dir, tmp_path, change)))


def test_a_smaller_copy_with_the_shipped_card_loads(imdb_dir, tmp_path):
    # the shipped card records 25,000 rows per split; a copy of the layout with fewer is fine
    import shutil

    from tests.helpers import REPO

    folder = _copy_with(imdb_dir, tmp_path, lambda f: shutil.copy(REPO / "datasets/imdb/README.md", f / "README.md"))
    assert len(load_labelled(str(folder))["train"]) == 123


def test_the_shipped_dataset_card_is_read_whole():
    """datasets drops a card's split sizes with a warning ("The splits field in YAML is
    malformed") when a field is missing; the shipped card's sizes are the files' own."""
    import pyarrow.parquet as pq
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard

    from tests.helpers import REPO

    folder = REPO / "datasets" / "imdb"
    infos = DatasetInfosDict.from_dataset_card_data(DatasetCard.load(folder / "README.md").data)
    splits = infos["plain_text"].splits
    assert isinstance(splits, dict), "the card's dataset_info.splits was dropped as malformed"
    for split in ("train", "test"):
        (file,) = (folder / "plain_text").glob(f"{split}-*.parquet")
        assert splits[split].num_examples == pq.ParquetFile(file).metadata.num_rows
        assert splits[split].num_bytes > 0
