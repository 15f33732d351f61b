"""Loading the labelled IMDB splits (Hub id or local mirror) and drawing subsets."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Dataset, DatasetDict
from datasets.exceptions import DatasetGenerationError

from sentiment_pipeline.data.sources import check_local, is_local, loading
from sentiment_pipeline.errors import DataError
from sentiment_pipeline.paths import LABEL, LABEL_NAMES, ROW, TEXT

REQUIRED_SPLITS = ("train", "test")
REQUIRED_COLUMNS = (TEXT, LABEL)


def check_hub_dataset(source: str, revision: str | None = None) -> None:
    """That a Hub `data.source` resolves (its card and file list, no data), from the
    Hub or, offline, the datasets cache: seconds at validate instead of a failure at
    download. An unreachable one raises SourceError naming data.source and the fix."""
    with loading(source, "data.source"):
        datasets.load_dataset_builder(source, revision=revision)


def load_labelled(source: str, revision: str | None = None) -> DatasetDict:
    """Load the train and test splits of `source` with `datasets.load_dataset`.

    `source` is a Hub dataset id (e.g. ``stanfordnlp/imdb``) or a local folder
    in the same layout; both go through the same call and the `datasets` cache.
    Returns splits with exactly the columns ``row`` (the row's 0-based position
    in the split as loaded, so predictions can be traced to the source),
    ``text`` (str) and ``label`` (ClassLabel neg/pos); unlabelled rows (label
    -1) are dropped.
    """
    local = is_local(source)
    source = check_local(source, "data.source")
    if local:
        check_dataset_folder(Path(source))
        _check_parquet_files(Path(source))
        # datasets 5 keys the cache of a local folder with a card config by the
        # config name alone ("plain_text"), not by its files: two local IMDB folders
        # would share one cache entry and its recorded split sizes. A local folder is
        # cheap to read, so it is loaded into memory through a private, throw-away
        # cache; Hub datasets use the shared cache (keyed by their revision).
        # The card's recorded split sizes describe the shipped copy, not a contract:
        # a smaller copy of the folder is fine (no_checks), the checks here follow.
        scratch = tempfile.mkdtemp(prefix="datasets-local-")
        try:
            with loading(source, "data.source"), _generation_errors(source):
                loaded = datasets.load_dataset(
                    source, cache_dir=scratch, keep_in_memory=True, verification_mode="no_checks"
                )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        with loading(source, "data.source"), _generation_errors(source):
            loaded = datasets.load_dataset(source, revision=revision)
    missing = [s for s in REQUIRED_SPLITS if s not in loaded]
    if missing:
        raise DataError(f"dataset {source!r} has no split(s) {missing}; found {list(loaded)}")
    out = {}
    for split in REQUIRED_SPLITS:
        ds = loaded[split]
        absent = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
        if absent:
            raise DataError(f"dataset {source!r} split {split!r} lacks column(s) {absent}")
        ds = ds.select_columns(list(REQUIRED_COLUMNS))
        _check_columns(ds, f"{source}[{split}]")
        ds = ds.add_column(ROW, list(range(len(ds)))).select_columns([ROW, *REQUIRED_COLUMNS])
        out[split] = _binary_labels(ds, f"{source}[{split}]")
    return DatasetDict(out)


@contextmanager
def _generation_errors(source: str) -> Iterator[None]:
    """What `datasets` raises for a file it cannot turn into the splits (a column
    missing, a value that does not fit the card's features), as one DataError."""
    try:
        yield
    except DatasetGenerationError as err:
        cause = err.__cause__ or err
        raise DataError(f"data.source {source!r} could not be read: {type(cause).__name__}: {cause}") from err


DATA_SUFFIXES = (".parquet", ".arrow", ".csv", ".tsv", ".json", ".jsonl", ".txt")  # what load_dataset reads


def check_dataset_folder(folder: Path) -> None:
    """A local data.source holds data files for each required split: those its
    card's default config names (`configs: data_files: [{split, path}]`), or else
    files named as `datasets` infers splits (`train.csv`, `train-0.parquet`,
    `train/part-0.jsonl`, ...). Checked before anything is read."""
    card_files = _card_data_files(folder / "README.md")
    files = [p.relative_to(folder) for p in folder.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file()]
    for split in REQUIRED_SPLITS:
        if card_files is not None:
            found = any(match for pattern in card_files.get(split, []) for match in folder.glob(pattern))
        else:
            named = re.compile(rf"^{split}($|[-._ 0-9])")
            found = any(named.match(part) for p in files for part in (*p.parent.parts, p.stem))
        if not found:
            raise DataError(
                f"data.source {str(folder)!r} holds no {split} split: a local dataset is a folder in the Hub "
                f"layout, with files such as plain_text/{split}-00000-of-00001.parquet (see datasets/imdb)"
            )


def _card_data_files(card: Path) -> dict[str, list[str]] | None:
    """{split: [glob, ...]} of the card's default config; None when the card names no files."""
    import yaml

    if not card.is_file():
        return None
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    try:
        front = yaml.safe_load(text.split("---", 2)[1])
    except yaml.YAMLError:
        return None
    configs = front.get("configs") if isinstance(front, dict) else None
    if not isinstance(configs, list) or not configs or not all(isinstance(c, dict) for c in configs):
        return None
    config = next((c for c in configs if c.get("default")), configs[0])
    entries = config.get("data_files")
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "split" in e for e in entries):
        return None
    return {e["split"]: [e["path"]] if isinstance(e.get("path"), str) else list(e.get("path") or []) for e in entries}


def _check_parquet_files(folder: Path) -> None:
    """The split files of a local folder in the Hub layout, checked before `datasets`
    reads them: it would cast a wrongly typed column to the card's features
    (numbers to text), refuse a label the card does not name with a traceback, or
    fail deep inside Arrow on a damaged, empty or not-UTF-8 file."""
    for split in REQUIRED_SPLITS:
        files = sorted(folder.glob(f"**/{split}-*.parquet"))
        rows = 0
        for file in files:
            rows += _check_parquet_file(file)
        if files and rows == 0:
            raise DataError(f"{folder}: the {split} split has no rows ({', '.join(f.name for f in files)})")


def _check_parquet_file(file: Path) -> int:
    """One split file: readable, both columns there and typed, text valid UTF-8,
    labels 0, 1 or -1 (unlabelled). Returns its row count."""
    try:
        schema = pq.read_schema(file)
        absent = [c for c in REQUIRED_COLUMNS if c not in schema.names]
        if absent:
            raise DataError(
                f"{file}: no column {absent[0]!r} (columns: {schema.names}): the splits need text and label"
            )
        text_type, label_type = schema.field(TEXT).type, schema.field(LABEL).type
        if not pa.types.is_string(text_type) and not pa.types.is_large_string(text_type):
            raise DataError(f"{file}: column {TEXT!r} holds {text_type}, not strings")
        if not pa.types.is_integer(label_type):
            raise DataError(f"{file}: column {LABEL!r} holds {label_type}, not integer labels 0/1")
        table = pq.read_table(file, columns=list(REQUIRED_COLUMNS))
        try:
            table.column(TEXT).validate(full=True)
        except pa.ArrowInvalid as err:
            raise DataError(f"{file}: column {TEXT!r} is not valid UTF-8 text ({err}): re-encode the file") from err
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{file}: not a readable parquet file ({err}): rebuild or replace it") from err
    unexpected = sorted(set(table.column(LABEL).unique().to_pylist()) - {0, 1, -1})
    if unexpected:
        raise DataError(f"{file}: labels must be 0 (neg) or 1 (pos) (-1: unlabelled), found {unexpected}")
    return table.num_rows


def _check_columns(ds: Dataset, where: str) -> None:
    """The text column holds strings (none missing, none binary), the label column integers."""
    text_type = getattr(ds.features[TEXT], "dtype", None)
    if text_type not in ("string", "large_string"):
        raise DataError(f"{where}: column {TEXT!r} holds {ds.features[TEXT]}, not strings: is it the review text?")
    label_type = getattr(ds.features[LABEL], "dtype", None)
    if not (isinstance(ds.features[LABEL], ClassLabel) or str(label_type).startswith(("int", "uint"))):
        raise DataError(f"{where}: column {LABEL!r} holds {ds.features[LABEL]}, not integer labels 0/1")
    missing = binary = 0
    for batch in ds.iter(batch_size=10_000):
        missing += sum(t is None for t in batch[TEXT])
        binary += sum(t is not None and "\x00" in t for t in batch[TEXT])
    if missing:
        raise DataError(f"{where}: {missing} rows have no {TEXT!r} (missing values): fill or drop them in the data")
    if binary:
        raise DataError(f"{where}: {binary} rows of {TEXT!r} hold binary data (NUL bytes), not review text")


def _binary_labels(ds: Dataset, where: str) -> Dataset:
    labels = ds.unique(LABEL)
    ds = ds.filter(lambda batch: [y != -1 for y in batch[LABEL]], batched=True)
    unexpected = sorted(set(labels) - {0, 1, -1})
    if unexpected:
        raise DataError(f"{where}: labels must be 0 (neg) or 1 (pos), found {unexpected}")
    if len(ds) == 0:
        raise DataError(f"{where}: no labelled rows")
    return ds.cast_column(LABEL, ClassLabel(names=list(LABEL_NAMES)))


def stratified_subset(ds: Dataset, size: int | None, seed: int, what: str) -> Dataset:
    """A label-stratified random subset of `size` rows (all rows when None)."""
    if size is None or size == len(ds):
        return ds
    if size > len(ds):
        raise DataError(f"{what}={size} is larger than the {len(ds)} rows available")
    if size < 2 * len(ds.unique(LABEL)):
        raise DataError(f"{what}={size} is too small for a stratified subset (need >= 2 per class)")
    return ds.train_test_split(train_size=size, stratify_by_column=LABEL, seed=seed)["train"]


__all__ = ["DataError", "load_labelled", "stratified_subset"]
