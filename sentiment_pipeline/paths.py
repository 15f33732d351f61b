"""The names everything shares: where each stage reads and writes (the file
contract of dvc.yaml), the data's column names and the label names.

All paths are relative to the repository (or DVC workspace) root, the working
directory DVC runs every stage in.
"""

from pathlib import Path

RAW_DIR = Path("data/raw")
CLEAN_DIR = Path("data/clean")
TOKENIZED_DIR = Path("data/tokenized")
TOKENIZER_DIR = TOKENIZED_DIR / "tokenizer"  # the tokenizer data/tokenized was encoded with
MODEL_DIR = Path("models/best")
CHECKPOINT_DIR = Path("models/checkpoints")  # resumable checkpoints of an unfinished training (checkpoints.py)
METRICS_DIR = Path("metrics")
REPORTS_DIR = Path("reports")
PLOTS_DIR = Path("plots")
SEARCH_DIR = Path("search")  # hyperparameter search (tools/hparam_search.py): study journal, best params

PARAMS_CHECK = REPORTS_DIR / "params_check.json"  # the validate stage's constant output
CLEAN_REPORT = METRICS_DIR / "clean.json"
TRAIN_METRICS = METRICS_DIR / "train.json"
EVAL_METRICS = METRICS_DIR / "eval.json"
TRAIN_HISTORY = REPORTS_DIR / "train_history.csv"  # one row per epoch
TRAIN_STEPS = REPORTS_DIR / "train_steps.csv"  # one row per logging step
PREDICTIONS = REPORTS_DIR / "predictions.csv"
ROC_CURVE = REPORTS_DIR / "roc.csv"
PR_CURVE = REPORTS_DIR / "pr.csv"
CALIBRATION = REPORTS_DIR / "calibration.csv"  # reliability diagram bins
CALIBRATION_SCALED = REPORTS_DIR / "calibration_scaled.csv"  # the same after temperature scaling
LENGTH_BUCKETS = REPORTS_DIR / "length_buckets.csv"  # accuracy and ECE by token-length quartile
ERRORS_JSON = REPORTS_DIR / "errors.json"
ERRORS_MD = REPORTS_DIR / "errors.md"

TIMING_KEY = "timing"  # metrics/*.json: the figures that differ run to run (times, throughputs)

SPLITS = ("train", "validation", "test")
LABEL_NAMES = ("neg", "pos")  # label 0 = negative, 1 = positive, everywhere
NEG, POS = LABEL_NAMES

# columns of the data files and tables
ROW = "row"  # the review's 0-based row in its split of data.source (datasets/imdb: the split's parquet file)
TEXT = "text"
LABEL = "label"
N_WORDS = "n_words"  # words per cleaned review: what the loss's length weight reads
N_TOKENS = "n_tokens"  # tokens before truncation
LENGTH = "length"  # tokens after truncation: what padding depends on
TRUNCATED = "truncated"  # whether the review was cut to max_length
