"""Review text cleaning, de-duplication and the stratified validation split.

pandas does the set operations (duplicates, train/test overlap) that
`datasets` has no API for; the cleaned tables are written as parquet.
"""

from __future__ import annotations

import html
import re

import pandas as pd
from sklearn.model_selection import train_test_split

from sentiment_pipeline.errors import DataError
from sentiment_pipeline.paths import LABEL, TEXT

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")  # a tag starts with a letter: "5 < 6 > 2" is text
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Strip HTML tags (IMDB's ``<br />``), unescape entities, normalise whitespace."""
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


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


def clean_splits(
    train: pd.DataFrame, test: pd.DataFrame, val_fraction: float, seed: int
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Clean both splits, remove test reviews from train, split off validation.

    Returns ({"train", "validation", "test"} tables with columns text, label,
    and a report of what was dropped and why, per split, under "clean".
    """
    report: dict = {}
    train = _clean_split(train, "train", report)
    test = _clean_split(test, "test", report)
    overlap = train[TEXT].isin(set(test[TEXT]))
    train = train[~overlap]
    report["train"]["dropped_test_overlap"] = int(overlap.sum())
    if train[LABEL].value_counts().min() < 2:
        raise DataError(
            "after cleaning, train has fewer than 2 reviews of some class, too few for a stratified "
            "validation split: raise data.train_size"
        )
    train, validation = train_test_split(train, test_size=val_fraction, stratify=train[LABEL], random_state=seed)
    tables = {"train": train, "validation": validation, "test": test}
    tables = {k: v.reset_index(drop=True)[[TEXT, LABEL]] for k, v in tables.items()}
    for split, df in tables.items():
        counts = df[LABEL].value_counts()
        report.setdefault(split, {})
        report[split]["rows_out"] = len(df)
        report[split]["positive_share"] = round(float(counts.get(1, 0)) / max(len(df), 1), 4)
    return tables, {"clean": report}  # nested, so `dvc exp show` names columns clean.train.*
