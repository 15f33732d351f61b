"""Cleaning one review's text: the same for training data and for inference.

Standard library only, so checking user input costs nothing before torch loads.
"""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")  # a tag starts with a letter: "5 < 6 > 2" is text
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Strip HTML tags (IMDB's ``<br />``), unescape entities, normalise whitespace."""
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()
