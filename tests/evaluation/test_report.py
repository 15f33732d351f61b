"""The evaluate stage's report: per-class metrics, length buckets, error analysis."""

import numpy as np
import pandas as pd
import pytest

from sentiment_pipeline.evaluation.error_analysis import error_analysis, to_markdown
from sentiment_pipeline.evaluation.metrics import predictions_table
from sentiment_pipeline.evaluation.report import evaluation_metrics, length_bucket_table, length_buckets, pr_table


def test_per_class_and_macro_metrics():
    labels = np.array([0, 0, 1, 1])
    prob = np.array([0.1, 0.7, 0.8, 0.9])  # one negative called positive
    m = evaluation_metrics(labels, prob, n_tokens=np.array([5, 10, 15, 20]), truncated=[0, 0, 1, 1], n_bins=15)
    assert m["precision_neg"] == 1.0 and m["recall_neg"] == 0.5
    assert m["precision_pos"] == pytest.approx(2 / 3) and m["recall_pos"] == 1.0
    assert m["f1_macro"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["brier"] == pytest.approx(np.mean((prob - labels) ** 2))
    assert m["truncated_share"] == 0.5
    assert set(m["by_length"]) == {"q1", "q2", "q3", "q4"}


def test_length_buckets_are_quartiles_with_their_edges():
    n_tokens = np.arange(1, 101)
    bucket, edges = length_buckets(n_tokens)
    assert np.bincount(bucket).tolist() == [25, 25, 25, 25]
    table = length_bucket_table(np.ones(100, int), np.full(100, 0.9), n_tokens)
    assert table["tokens_from"].tolist() == [1, 26, 51, 76]
    assert table["tokens_to"].tolist() == [25, 50, 75, 100]
    assert table["accuracy"].tolist() == [1.0] * 4
    assert table["ece"].tolist() == pytest.approx([0.1] * 4)


def test_pr_table_has_one_threshold_per_point():
    table = pr_table(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.7]))
    assert list(table.columns) == ["recall", "precision", "threshold"] and table["recall"].iloc[-1] == 0


@pytest.fixture
def analysed():
    labels = np.array([0, 1, 0, 1, 1, 0, 0, 1, 1, 0])
    prob = np.array([0.99, 0.2, 0.1, 0.9, 0.8, 0.6, 0.3, 0.7, 0.95, 0.05])
    n_words = np.array([5, 300, 12, 40, 41, 50, 60, 70, 80, 900])
    texts = [
        "Not good at all, never again",
        "A | fine film",
        "bad",
        "great",
        "great fun",
        "I didn't hate it",
        "meh",
        "good",
        "superb",
        "no",
    ]
    predictions = predictions_table(labels, prob, n_words, n_words, np.zeros(10, bool))
    return error_analysis(predictions, pd.Series(texts), k=2, max_chars=12)


def test_error_counts_and_most_confident_errors(analysed):
    assert analysed["n_errors"] == 3
    assert analysed["false_positives"] == 2 and analysed["false_negatives"] == 1
    top = analysed["most_confident_errors"]
    assert [e["confidence"] for e in top] == [0.99, 0.8]  # rows 0 (fp) and 1 (fn, P(neg) = 0.8)
    assert top[0]["true_label"] == "neg" and top[0]["predicted"] == "pos"
    assert top[0]["text"] == "Not good at…" and len(top[0]["text"]) <= 12


def test_error_rates_by_length_and_negation(analysed):
    length = analysed["by_length"]
    assert length["shortest_tenth"]["n"] == 1 and length["shortest_tenth"]["error_rate"] == 1.0  # the 5-word review
    assert length["longest_tenth"]["n"] == 1 and length["longest_tenth"]["error_rate"] == 0.0
    negation = analysed["by_negation"]
    # "Not...never", "didn't", "no" have negations; rows 0 and 5 are errors among them
    assert negation["with_negation"] == {"n": 3, "error_rate": pytest.approx(2 / 3)}
    assert negation["without_negation"]["n"] == 7


def test_markdown_report_escapes_table_pipes(analysed):
    md = to_markdown(analysed)
    assert "3 errors in 10 reviews" in md and "A \\| fine" in md


def test_texts_must_match_predictions():
    predictions = predictions_table(np.array([0, 1]), np.array([0.2, 0.8]), [1, 2], [1, 2], [False, False])
    with pytest.raises(ValueError, match="same test rows"):
        error_analysis(predictions, pd.Series(["only one"]))
