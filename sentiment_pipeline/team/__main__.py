"""python -m sentiment_pipeline.team up | down | status | env | promote (see cli.py)."""

from sentiment_pipeline.team.cli import main

main()
