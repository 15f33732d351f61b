"""Review text cleaning, de-duplication and the stratified validation split.

pandas does the set operations (duplicates, train/test overlap) that
`datasets` has no API for; the cleaned tables are written as parquet.
"""

from __future__ import annotations

import math

import pandas as pd
from sklearn.model_selection import train_test_split

from sentiment_pipeline.data.text import clean_text, readable
from sentiment_pipeline.errors import DataError
from sentiment_pipeline.paths import LABEL, LABEL_NAMES, ROW, TEXT


def _clean_split(df: pd.DataFrame, split: str, report: dict) -> pd.DataFrame:
    n_in = len(df)
    df = df.assign(**{TEXT: df[TEXT].map(clean_text)})
    empty = ~df[TEXT].map(readable)
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


CAUSES = {  # report key -> how a user reads it
    "dropped_empty": "empty after cleaning (only tags or invisible characters)",
    "dropped_conflicting_labels": "the same text with both labels",
    "dropped_duplicates": "duplicates",
    "dropped_test_overlap": "also in the test split",
}


def _check_classes(df: pd.DataFrame, split: str, size_param: str, need: int, report: dict) -> None:
    """Both classes, at least `need` reviews each: a one-class split trains a model
    that learns nothing, or scores one that cannot be judged. The message names
    what cleaning dropped, so the cause is read in it, not in a deleted report."""
    counts = df[LABEL].value_counts()
    found = {name: int(counts.get(label, 0)) for label, name in enumerate(LABEL_NAMES)}
    if min(found.values()) >= need:
        return
    shown = ", ".join(f"{n} {name}" for name, n in found.items())
    dropped = {CAUSES[k]: v for k, v in report[split].items() if k in CAUSES and v}
    why = "; ".join(f"{v} of {report[split]['rows_in']} {cause}" for cause, v in dropped.items())
    main = max(dropped, key=dropped.get) if dropped else None
    if main and 2 * dropped[main] > report[split]["rows_in"]:  # one cause took most of the split
        hint = {
            CAUSES["dropped_empty"]: f"check the {TEXT!r} column of data.source's {split} split",
            CAUSES["dropped_test_overlap"]: "data.source's train split repeats its test split: use distinct splits",
            CAUSES["dropped_duplicates"]: f"data.source's {split} split repeats the same reviews",
            CAUSES["dropped_conflicting_labels"]: f"data.source's {split} split labels the same texts both ways",
        }[main]
    else:
        hint = f"check that data.source has labels 0 and 1 in its {split} split, or raise {size_param}"
    raise DataError(
        f"after cleaning, {split} holds {shown} reviews ({why or 'nothing dropped'}); "
        f"both classes are needed (at least {need} each): {hint}"
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
    _check_classes(train, "train", "data.train_size", 2, report)
    _check_classes(test, "test", "data.test_size", 1, report)
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
