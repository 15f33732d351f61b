"""Cleaning one review's text: the same for training data and for inference.

Standard library only, so checking user input costs nothing before torch loads.
"""

from __future__ import annotations

import html
import re
import unicodedata

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")  # a tag starts with a letter: "5 < 6 > 2" is text
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Strip HTML tags (IMDB's ``<br />``), unescape entities, normalise whitespace."""
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


# Unicode categories a reader sees: letters, marks, numbers, punctuation, symbols
# (not separators, controls, format characters such as zero-width spaces, or unassigned)
_VISIBLE = frozenset("LMNPS")
MAX_TEXT_CHARS = 2_000_000  # per review, at every entry point: about 140x IMDB's longest


def readable(text: str) -> bool:
    """Whether the cleaned text holds anything a reader would see. A review of only
    tags, whitespace, zero-width or control characters is empty: nothing to classify."""
    return any(unicodedata.category(ch)[0] in _VISIBLE for ch in clean_text(text))
