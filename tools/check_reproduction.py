"""Check that the workspace reproduces the committed run: run it after `dvc repro`
(on a fresh clone) or `dvc repro -f` (to recompute everything here).

    dvc repro -f && python tools/check_reproduction.py [--rev HEAD]

First, that there is a complete run here: every output dvc.lock names exists
and `dvc status` finds each one hashing as the lock says, with no stage stale
(a fresh clone without a run, or a run stopped midway, fails here: the lock
and metrics it would otherwise compare are still the committed ones). Then it
compares with the commit `--rev`:
- every output hash in dvc.lock, models/best above all, except the outputs that
  hold timings (metrics/train.json, metrics/eval.json, reports/train_history.csv,
  plots/), which differ run to run by design;
- every metric in metrics/*.json except those under "timing".
Prints each difference and exits 1 if there is any, else prints what matched.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

TIMING_KEY = "timing"
TIMING_OUTPUTS = {"metrics/train.json", "metrics/eval.json", "reports/train_history.csv", "plots"}
METRICS = ("metrics/clean.json", "metrics/train.json", "metrics/eval.json")


def at_rev(rev: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True).stdout


def out_hashes(lock_text: str) -> dict[str, str]:
    lock = yaml.safe_load(lock_text)
    return {out["path"]: out.get("md5") for stage in lock["stages"].values() for out in stage.get("outs", [])}


def flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def incomplete_run(lock_text: str) -> list[str]:
    """What says the workspace holds no complete run of its dvc.lock: missing
    outputs first, then what `dvc status` finds changed or stale."""
    missing = [path for path in out_hashes(lock_text) if not Path(path).exists()]
    if missing:
        return [f"missing {path}" for path in missing]
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], capture_output=True, text=True)
    if status.returncode != 0:
        return [f"dvc status failed: {status.stderr.strip().splitlines()[-1:]}"]
    changed = json.loads(status.stdout or "{}")
    return [f"stage {stage}: {json.dumps(what)}" for stage, what in changed.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default="HEAD", help="the commit to compare with (default: HEAD)")
    args = parser.parse_args()
    lock_text = Path("dvc.lock").read_text()
    if problems := incomplete_run(lock_text):
        for line in problems:
            print(f"NOT REPRODUCED  {line}")
        print(
            "no complete run in this workspace, so nothing to compare: run `dvc repro`, then this check again "
            "(after an interrupted run, `dvc checkout` puts the committed outputs back)"
        )
        sys.exit(1)
    problems, matched = [], 0
    committed, here = out_hashes(at_rev(args.rev, "dvc.lock")), out_hashes(lock_text)
    for path in sorted(set(committed) | set(here)):
        if path in TIMING_OUTPUTS:
            continue
        if committed.get(path) != here.get(path):
            problems.append(f"dvc.lock {path}: {committed.get(path)} at {args.rev}, {here.get(path)} here")
        else:
            matched += 1
    for path in METRICS:
        old = {k: v for k, v in flat(json.loads(at_rev(args.rev, path))).items() if not k.startswith(TIMING_KEY)}
        new = {k: v for k, v in flat(json.loads(Path(path).read_text())).items() if not k.startswith(TIMING_KEY)}
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                problems.append(f"{path} {key}: {old.get(key)} at {args.rev}, {new.get(key)} here")
            else:
                matched += 1
    for line in problems:
        print(f"DIFFERENT  {line}")
    print(
        f"{matched} output hashes and metrics identical to {args.rev}, {len(problems)} different "
        f"(timings excluded: {', '.join(sorted(TIMING_OUTPUTS))} and metrics under '{TIMING_KEY}')"
    )
    print(f"models/best: {here.get('models/best')}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
