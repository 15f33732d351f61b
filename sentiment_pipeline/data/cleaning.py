"""Review text cleaning, de-duplication and the stratified validation split.

pandas does the set operations (duplicates, train/test overlap) that
`datasets` has no API for; the cleaned tables are written as parquet.
"""

from __future__ import annotations

import math

import pandas as pd
from sklearn.model_selection import train_test_split

from sentiment_pipeline.data.text import clean_text
from sentiment_pipeline.errors import DataError
from sentiment_pipeline.paths import LABEL, LABEL_NAMES, ROW, TEXT


def _clean_split(df: pd.DataFrame, split: str, report: dict) -> pd.DataFrame:
    n_in = len(df)
    df = df.assign(**{TEXT: df[TEXT].map(clean_text)})
    empty = df[TEXT].str.len() == 0
    df = df[~empty]
    # the same text with different labels cannot be learned: drop every copy
    conflicting = df.groupby(TEXT)[LABEL].transform("nunique") > 1
    df = df[~conflicting]
    duplicated = df.duplicated(TEXT, keep="first")
    df = df[~duplicated]
    report[split] = {
        "rows_in": n_in,
        "dropped_empty": int(empty.sum()),
        "dropped_conflicting_labels": int(conflicting.sum()),
        "dropped_duplicates": int(duplicated.sum()),
    }
    return df


def _check_classes(df: pd.DataFrame, split: str, size_param: str, need: int) -> None:
    """Both classes, at least `need` reviews each: a one-class split trains a model
    that learns nothing, or scores one that cannot be judged."""
    counts = df[LABEL].value_counts()
    found = {name: int(counts.get(label, 0)) for label, name in enumerate(LABEL_NAMES)}
    if min(found.values()) < need:
        shown = ", ".join(f"{n} {name}" for name, n in found.items())
        raise DataError(
            f"after cleaning, {split} holds {shown} reviews; both classes are needed (at least {need} each): "
            f"check that data.source has labels 0 and 1 in its {split} split, or raise {size_param}"
        )


def clean_splits(
    train: pd.DataFrame, test: pd.DataFrame, val_fraction: float, seed: int
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Clean both splits, remove test reviews from train, split off validation.

    Returns ({"train", "validation", "test"} tables with columns row (when
    given), text, label,
    and a report of what was dropped and why, per split, under "clean".
    """
    report: dict = {}
    train = _clean_split(train, "train", report)
    test = _clean_split(test, "test", report)
    overlap = train[TEXT].isin(set(test[TEXT]))
    train = train[~overlap]
    report["train"]["dropped_test_overlap"] = int(overlap.sum())
    _check_classes(train, "train", "data.train_size", need=2)
    _check_classes(test, "test", "data.test_size", need=1)
    n_validation = math.ceil(val_fraction * len(train))
    if n_validation < len(LABEL_NAMES) or len(train) - n_validation < len(LABEL_NAMES):
        raise DataError(
            f"after cleaning, train has {len(train)} reviews: data.val_fraction={val_fraction} leaves "
            f"{n_validation} for validation and {len(train) - n_validation} for training, and each needs both "
            "classes: raise data.train_size or change data.val_fraction"
        )
    train, validation = train_test_split(train, test_size=val_fraction, stratify=train[LABEL], random_state=seed)
    tables = {"train": train, "validation": validation, "test": test}
    # the source row travels with each review (predictions name it); frames without one get none
    columns = [c for c in (ROW, TEXT, LABEL) if c in train.columns]
    tables = {k: v.reset_index(drop=True)[columns] for k, v in tables.items()}
    for split, df in tables.items():
        counts = df[LABEL].value_counts()
        report.setdefault(split, {})
        report[split]["rows_out"] = len(df)
        report[split]["positive_share"] = round(float(counts.get(1, 0)) / max(len(df), 1), 4)
    return tables, {"clean": report}  # nested, so `dvc exp show` names columns clean.train.*
