"""Two runs on the same test reviews, paired: McNemar's exact test and bootstrap
intervals of the differences (accuracy, ECE, ECE after temperature scaling).

    python tools/compare_predictions.py A/predictions.csv B/predictions.csv [--json out.json]

Each file is a reports/predictions.csv the evaluate stage wrote (columns label,
prob_pos, prob_pos_scaled); B is compared against A (differences are B - A).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from sentiment_pipeline.evaluation.paired import compare_predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="predictions of the reference run")
    parser.add_argument("b", type=Path, help="predictions of the run compared with it")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    try:
        result = compare_predictions(pd.read_csv(args.a), pd.read_csv(args.b), args.n_boot)
    except (OSError, KeyError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(
        f"{result['n']:,} reviews: accuracy {result['accuracy_a']:.4f} (A) vs {result['accuracy_b']:.4f} (B); "
        f"only A right {result['only_a_right']}, only B right {result['only_b_right']}, "
        f"McNemar p = {result['mcnemar_p']:.3g}"
    )
    for name in ("accuracy", "ece", "ece_scaled"):
        if f"d_{name}" in result:
            print(
                f"  B - A {name}: {result[f'd_{name}']:+.4f} "
                f"[{result[f'd_{name}_low']:+.4f}, {result[f'd_{name}_high']:+.4f}] (95% paired bootstrap)"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
