"""Where the model goes wrong: its most confident mistakes, and error rates for
the shortest and longest reviews and for reviews with and without negations."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sentiment_pipeline.paths import LABEL, LABEL_NAMES, N_WORDS, ROW, TEXT

NEGATION = re.compile(r"\b(?:not|never|no)\b|n't", re.IGNORECASE)


def shorten(text: str, max_chars: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def _rate(errors: pd.Series) -> dict:
    return {"n": int(len(errors)), "error_rate": float(errors.mean()) if len(errors) else None}


def error_analysis(predictions: pd.DataFrame, texts: pd.Series, k: int = 10, max_chars: int = 300) -> dict:
    """`predictions` as predictions_table writes it (label, predicted, confidence,
    n_words, n_tokens), `texts` the cleaned test reviews in the same order."""
    if len(predictions) != len(texts):
        raise ValueError(f"{len(predictions)} predictions but {len(texts)} texts: they must be the same test rows")
    df = predictions.reset_index(drop=True).assign(text=pd.Series(texts).reset_index(drop=True))
    wrong = df[LABEL] != df["predicted"]
    short_cut, long_cut = np.quantile(df[N_WORDS], [0.1, 0.9])
    has_negation = df[TEXT].str.contains(NEGATION)
    top = df[wrong].sort_values("confidence", ascending=False, kind="stable").head(k)
    return {
        "n_reviews": int(len(df)),
        "n_errors": int(wrong.sum()),
        "false_positives": int(((df["predicted"] == 1) & (df[LABEL] == 0)).sum()),
        "false_negatives": int(((df["predicted"] == 0) & (df[LABEL] == 1)).sum()),
        "by_length": {
            "shortest_tenth": {"max_words": int(short_cut), **_rate(wrong[df[N_WORDS] <= short_cut])},
            "longest_tenth": {"min_words": int(np.ceil(long_cut)), **_rate(wrong[df[N_WORDS] >= long_cut])},
            "all": _rate(wrong),
        },
        "by_negation": {"with_negation": _rate(wrong[has_negation]), "without_negation": _rate(wrong[~has_negation])},
        "most_confident_errors": [
            {
                ROW: int(r[ROW]),
                "true_label": LABEL_NAMES[int(r[LABEL])],
                "predicted": LABEL_NAMES[int(r["predicted"])],
                "confidence": round(float(r["confidence"]), 4),
                "n_words": int(r[N_WORDS]),
                "text": shorten(r[TEXT], max_chars),
            }
            for _, r in top.iterrows()
        ],
    }


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def to_markdown(report: dict) -> str:
    """The same report for people: counts, rates, then the mistakes themselves."""
    length, negation = report["by_length"], report["by_negation"]
    lines = [
        "# Error analysis (test set)",
        "",
        f"{report['n_errors']} errors in {report['n_reviews']} reviews: "
        f"{report['false_positives']} false positives (negative reviews called positive), "
        f"{report['false_negatives']} false negatives.",
        "",
        "| reviews | n | error rate |",
        "| --- | --- | --- |",
        f"| all | {length['all']['n']} | {_pct(length['all']['error_rate'])} |",
        f"| shortest tenth (≤ {length['shortest_tenth']['max_words']} words) | {length['shortest_tenth']['n']} | "
        f"{_pct(length['shortest_tenth']['error_rate'])} |",
        f"| longest tenth (≥ {length['longest_tenth']['min_words']} words) | {length['longest_tenth']['n']} | "
        f"{_pct(length['longest_tenth']['error_rate'])} |",
        f"| with a negation (not, n't, never, no) | {negation['with_negation']['n']} | "
        f"{_pct(negation['with_negation']['error_rate'])} |",
        f"| without | {negation['without_negation']['n']} | {_pct(negation['without_negation']['error_rate'])} |",
        "",
        f"## The {len(report['most_confident_errors'])} most confident errors",
        "",
        "| # | true | predicted | confidence | words | review (shortened) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for i, e in enumerate(report["most_confident_errors"], 1):
        text = e[TEXT].replace("|", "\\|")
        lines.append(
            f"| {i} | {e['true_label']} | {e['predicted']} | {e['confidence']:.3f} | {e['n_words']} | {text} |"
        )
    return "\n".join(lines) + "\n"
