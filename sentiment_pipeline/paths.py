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
TIMINGS_DIR = Path("timings")  # run-to-run figures (times, throughputs): git-ignored, not DVC outputs
SEARCH_DIR = Path("search")  # hyperparameter search (tools/hparam_search.py): study journal, best params

PARAMS_CHECK = REPORTS_DIR / "params_check.json"  # the validate stage's constant output
CLEAN_REPORT = REPORTS_DIR / "clean.json"  # what clean dropped and why (a report, not a metric)
TRAIN_METRICS = METRICS_DIR / "train.json"
EVAL_METRICS = METRICS_DIR / "eval.json"  # the figures runs are compared by (report.HEADLINE_METRICS)
TRAIN_HISTORY = REPORTS_DIR / "train_history.csv"  # one row per epoch
TRAIN_STEPS = REPORTS_DIR / "train_steps.csv"  # one row per logging step
PREDICTIONS = REPORTS_DIR / "predictions.csv"
ROC_CURVE = REPORTS_DIR / "roc.csv"
PR_CURVE = REPORTS_DIR / "pr.csv"
CALIBRATION = REPORTS_DIR / "calibration.csv"  # reliability diagram bins
CALIBRATION_SCALED = REPORTS_DIR / "calibration_scaled.csv"  # the same after temperature scaling
LENGTH_BUCKETS = REPORTS_DIR / "length_buckets.csv"  # accuracy and ECE by token-length quartile
EVAL_REPORT = REPORTS_DIR / "evaluation.json"  # every test metric: per class, by length, MCE, ...
ERRORS_JSON = REPORTS_DIR / "errors.json"
ERRORS_MD = REPORTS_DIR / "errors.md"
MODEL_CARD = MODEL_DIR / "README.md"  # the Hub's model card, validation results (train writes it)
MODEL_CARD_REPORT = REPORTS_DIR / "model_card.md"  # the same card with the test results too (evaluate)

TRAIN_TIMING = TIMINGS_DIR / "train.json"
EVAL_TIMING = TIMINGS_DIR / "evaluate.json"

# The figures that differ between two runs of the same params and data. They go to MLflow and to
# timings/ only: never into a DVC-tracked output, so a rerun leaves dvc.lock and git status unchanged.
TIMING_KEY = "timing"  # in the metrics dict train() returns, and as MLflow's timing_* metrics
TIMING_COLUMNS = ("epoch_time_s", "epoch_examples_per_s", "step_time_s")  # of each epoch's row

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
