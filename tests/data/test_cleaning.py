import pandas as pd
import pytest

from sentiment_pipeline.data.cleaning import clean_splits
from sentiment_pipeline.data.text import clean_text
from sentiment_pipeline.errors import DataError


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Great film.<br /><br />Loved it", "Great film. Loved it"),
        ("Tom &amp; Jerry&#39;s  \n\t best", "Tom & Jerry's best"),
        ("<i>italic</i> and <b>bold</b>", "italic and bold"),
        ("   ", ""),
        ("5 < 6 but 7 > 2", "5 < 6 but 7 > 2"),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def _frame(rows):
    return pd.DataFrame(rows, columns=["text", "label"])


def test_clean_splits_drops_and_reports_what_and_why():
    train = _frame(
        [(f"good movie number {i}", 1) for i in range(10)]
        + [(f"bad movie number {i}", 0) for i in range(10)]
        + [
            ("good movie number 0", 1),  # duplicate
            ("<br />", 0),  # empty after cleaning
            ("same words", 0),
            ("same  words", 1),  # conflicting labels once cleaned
            ("seen in test", 1),
        ]  # overlaps test
    )
    test = _frame([("seen in test", 1), ("a test review", 0), ("a test review", 0)])
    tables, report = clean_splits(train, test, val_fraction=0.2, seed=0)
    assert report["clean"]["train"] == {
        "rows_in": 25,
        "dropped_empty": 1,
        "dropped_conflicting_labels": 2,
        "dropped_duplicates": 1,
        "dropped_test_overlap": 1,
        "rows_out": 16,
        "positive_share": 0.5,
    }
    assert report["clean"]["test"]["dropped_duplicates"] == 1 and report["clean"]["test"]["rows_out"] == 2
    assert len(tables["validation"]) == 4 and tables["validation"]["label"].sum() == 2  # stratified
    all_train = set(tables["train"]["text"]) | set(tables["validation"]["text"])
    assert len(all_train) == 20 and not all_train & set(tables["test"]["text"])
    assert all(list(df.columns) == ["text", "label"] for df in tables.values())


def test_split_is_reproducible_and_seeded():
    train = _frame([(f"review {i}", i % 2) for i in range(40)])
    test = _frame([("t", 0), ("u", 1)])
    a, _ = clean_splits(train, test, 0.25, seed=1)
    b, _ = clean_splits(train, test, 0.25, seed=1)
    c, _ = clean_splits(train, test, 0.25, seed=2)
    assert a["validation"].equals(b["validation"])
    assert not a["validation"].equals(c["validation"])


def test_too_few_reviews_of_a_class_is_an_error():
    with pytest.raises(DataError, match=r"train holds 2 neg, 1 pos reviews \(.*\); both classes are needed"):
        clean_splits(_frame([("a", 0), ("b", 0), ("c", 1)]), _frame([("t", 0), ("u", 1)]), 0.5, 0)


def test_data_of_a_single_class_stops_at_clean():
    # every review positive: without this check all six stages "succeeded" (val accuracy 1.0)
    train = _frame([(f"good film {i}", 1) for i in range(20)])
    with pytest.raises(DataError, match=r"train holds 0 neg, 20 pos .* labels 0 and 1"):
        clean_splits(train, _frame([("t", 0), ("u", 1)]), 0.25, 0)
    mixed = _frame([(f"film {i}", i % 2) for i in range(20)])
    with pytest.raises(DataError, match=r"test holds 0 neg, 2 pos .* data.test_size"):
        clean_splits(mixed, _frame([("t", 1), ("u", 1)]), 0.25, 0)


def test_a_subset_too_small_for_the_validation_split_is_named():
    # 4 reviews, val_fraction 0.25: 1 for validation cannot hold both classes (scikit-learn's error before)
    train = _frame([("a", 0), ("b", 0), ("c", 1), ("d", 1)])
    with pytest.raises(DataError, match=r"data.val_fraction=0.25 leaves 1 for validation .* raise data.train_size"):
        clean_splits(train, _frame([("t", 0), ("u", 1)]), 0.25, 0)


@pytest.mark.parametrize(
    "train, test, message",
    [
        # every text empty after cleaning (tags, whitespace, a zero-width space)
        (
            [("<br />", 0), (" ", 1), ("\u200b", 0), ("<p></p>", 1)],
            [("t", 0), ("u", 1)],
            r"train holds 0 neg, 0 pos reviews \(4 of 4 empty after cleaning .*\).*check the 'text' column",
        ),
        # the train split is the test split
        (
            [(f"review {i}", i % 2) for i in range(10)],
            [(f"review {i}", i % 2) for i in range(10)],
            r"\(10 of 10 also in the test split\).*train split repeats its test split",
        ),
        # all rows the same review
        ([("same review", 0)] * 6, [("t", 0), ("u", 1)], r"\(5 of 6 duplicates\).*repeats the same reviews"),
    ],
)
def test_clean_names_the_real_cause_when_a_split_empties(train, test, message):
    with pytest.raises(DataError, match=message):
        clean_splits(_frame(train), _frame(test), 0.25, 0)
