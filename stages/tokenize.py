"""Stage tokenize: data/clean -> data/tokenized (and its tokenizer), with review lengths.
The work is sentiment_pipeline/steps/tokenize.py; dvc.yaml's cmd names the paths in this order."""

from sentiment_pipeline import paths
from sentiment_pipeline.stage import run_step
from sentiment_pipeline.steps.tokenize import tokenize

STEP = tokenize
PATHS = {
    "clean_dir": paths.CLEAN_DIR,
    "tokenized_dir": paths.TOKENIZED_DIR,
}


def main(argv: list[str] | None = None) -> None:
    run_step(STEP, PATHS, argv)


if __name__ == "__main__":
    main()
