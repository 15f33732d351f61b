"""Reproducible IMDB sentiment pipeline: the logic behind the DVC stages."""

__version__ = "0.1.0"
