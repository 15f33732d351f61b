"""The command line: `python -m sentiment_pipeline predict ...` and `... demo`.

    python -m sentiment_pipeline predict "A wonderful film." ["Another review" ...]
    python -m sentiment_pipeline predict --file reviews.txt          # one review per line (- : stdin)
    python -m sentiment_pipeline predict --csv reviews.csv --column text
    options: --model models/best (or models:/<name>/<version>), --batch-size N,
             --device auto|cpu|cuda, --precision auto|fp32|bf16|fp16,
             --output predictions.jsonl (default: stdout;
             an existing file is kept unless --force; written whole or not at all)

Writes one JSON object per review, in input order:
    {"line": 3, "label": "pos", "confidence": 0.93, "scores": {"neg": 0.07, "pos": 0.93}}
("index" for texts given as arguments, "line" (1-based) for --file, "row"
(0-based data row) for --csv). Blank lines and empty CSV cells have nothing to
classify: they are skipped, each named on stderr, and the numbering still
refers to the input. A progress bar (stderr) shows for files. Any number of
reviews is fine (100,000 lines: tokenized and predicted 4,096 at a time); a
review longer than the model's token budget is cut as in training.

Exit status: 0 all predicted; 2 bad input (no texts, unreadable file, missing
column, unknown or corrupted model, an existing --output; the message names
it); 1 anything else.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from sentiment_pipeline.data.text import MAX_TEXT_CHARS, readable
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.paths import MODEL_DIR

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2
# SentimentAnalyzer's; not imported from it, so torch loads only after the input is checked
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PRECISION_HELP = "auto (bf16 on a GPU or a CPU with AMX/AVX512-BF16, else fp32), fp32, bf16, fp16 (GPU)"


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """One review per line of `path` ("-": standard input)."""
    try:
        text = sys.stdin.buffer.read().decode("utf-8") if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineInputError(f"cannot read {'standard input' if str(path) == '-' else path}: {err}") from err
    lines = text.splitlines()
    return [(i + 1, line) for i, line in enumerate(lines)]


def _read_csv(path: Path, column: str) -> list[tuple[int, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or column not in reader.fieldnames:
                raise PipelineInputError(f"{path} has no column {column!r} (columns: {reader.fieldnames or []})")
            return [(i, row[column] or "") for i, row in enumerate(reader)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise PipelineInputError(f"cannot read {path}: {err}") from err


def collect_texts(args: argparse.Namespace) -> tuple[str, list[tuple[int, str]]]:
    """(the numbering key, [(number, text)]) from the arguments, a text file or a CSV column."""
    sources = sum(bool(x) for x in (args.texts, args.file, args.csv))
    if sources != 1:
        raise PipelineInputError("give the reviews as arguments, or --file, or --csv (exactly one)")
    if args.texts:
        return "index", list(enumerate(args.texts))
    if args.file:
        return "line", _read_lines(Path(args.file))
    return "row", _read_csv(Path(args.csv), args.column)


def predict(args: argparse.Namespace, out: TextIO) -> None:
    key, items = collect_texts(args)
    for n, text in items:
        if len(text) > MAX_TEXT_CHARS:
            raise PipelineInputError(
                f"{key} {n} has {len(text):,} characters, more than the limit of {MAX_TEXT_CHARS:,} per review"
            )
    keep = [(n, t) for n, t in items if readable(t)]
    for n, _ in (x for x in items if not readable(x[1])):
        print(f"skipped {key} {n}: empty (or only HTML tags), nothing to classify", file=sys.stderr)
    if not keep:
        raise PipelineInputError("no non-empty review to classify")
    # torch and transformers load only now, after the input was checked
    from sentiment_pipeline.inference.analyzer import SentimentAnalyzer

    analyzer = SentimentAnalyzer.from_pretrained(args.model, device=args.device, precision=args.precision)
    predictions = analyzer.predict_batch([t for _, t in keep], batch_size=args.batch_size, progress=not args.texts)
    for (n, _), prediction in zip(keep, predictions):
        out.write(json.dumps({key: n, **prediction.to_dict()}) + "\n")


def write_output(args: argparse.Namespace, path: Path) -> None:
    """Predictions into `path`, all or nothing: written to a temporary file beside
    it and renamed at the end, so a failed run leaves no half file and an earlier
    output survives it. An existing file is refused without --force (checked
    before the model loads)."""
    if path.is_dir():
        raise PipelineInputError(f"--output {path} is a folder: name a file, e.g. {path / 'predictions.jsonl'}")
    if path.exists() and not args.force:
        raise PipelineInputError(f"{path} exists: pass --force to overwrite it, or choose another --output")
    if not path.parent.is_dir():
        raise PipelineInputError(f"cannot write {path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            predict(args, out)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sentiment_pipeline", description="Use a model trained by this pipeline."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "predict",
        help="classify reviews, JSON lines out",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("texts", nargs="*", help="reviews to classify")
    p.add_argument("--file", help="a text file, one review per line (- reads standard input)")
    p.add_argument("--csv", help="a CSV file with a header row")
    p.add_argument("--column", default="text", help="the CSV column holding the reviews (default: text)")
    p.add_argument("--model", default=str(MODEL_DIR), help=f"model folder or MLflow model URI (default: {MODEL_DIR})")
    p.add_argument("--batch-size", type=int, help="reviews per forward pass (default: 16 on a CPU, 64 on a GPU)")
    p.add_argument("--device", default="auto", help="auto (CUDA, MPS, else CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    p.add_argument("--output", help="write the JSON lines here instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output file")

    d = sub.add_parser(
        "demo",
        help="the web demo (Gradio) on http://127.0.0.1:7860",
        description="Serve a web page that classifies the review typed in it (see demo.py).",
    )
    d.add_argument("--model", default=str(MODEL_DIR), help=f"model folder or MLflow model URI (default: {MODEL_DIR})")
    d.add_argument(
        "--metrics",
        type=Path,
        help="the eval.json that scores this model "
        "(default: metrics/eval.json for models/best; registry tags for models:/ URIs)",
    )
    d.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    d.add_argument("--port", type=int, default=7860)
    d.add_argument("--device", default="auto", help="auto (CUDA, MPS, else CPU), cpu, cuda, cuda:1, mps")
    d.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors exit with status 2 (argparse)
    try:
        if args.command == "predict":
            if args.batch_size is not None and args.batch_size < 1:
                raise PipelineInputError(f"--batch-size must be >= 1, got {args.batch_size}")
            if args.output:
                write_output(args, Path(args.output))
            else:
                predict(args, sys.stdout)
        elif args.command == "demo":
            from sentiment_pipeline.serving.demo import serve

            if not 0 < args.port < 65536:
                raise PipelineInputError(f"--port must be 1-65535, got {args.port}")
            serve(args.model, args.metrics, args.host, args.port, args.device, args.precision)
    except PipelineInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return EXIT_OK
