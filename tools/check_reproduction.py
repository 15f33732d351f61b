"""Check that the workspace reproduces the committed run: run it after `dvc repro`
(on a fresh clone) or `dvc repro -f` (to recompute everything here).

    dvc repro -f && python tools/check_reproduction.py [--rev HEAD]

It is `git diff --exit-code` with the two checks git cannot make:
- first, that there is a complete run here: every output dvc.lock names exists
  and `dvc status` finds each one hashing as the lock says, with no stage stale
  (a fresh clone without a run, or a run stopped midway, fails here: the lock and
  metrics it would otherwise compare are still the committed ones);
- then, against the commit `--rev`: every output hash in dvc.lock (models/best
  above all, which git does not hold) and every metric in metrics/*.json, then
  every other file git tracks. No exclusions: times and throughputs go to MLflow
  and timings/, never into a DVC output, so a rerun rewrites each output byte
  for byte.
Prints each difference and exits 1 if there is any, else prints what matched.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

from sentiment_pipeline import paths

METRICS = (str(paths.TRAIN_METRICS), str(paths.EVAL_METRICS))


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
        if committed.get(path) != here.get(path):
            problems.append(f"dvc.lock {path}: {committed.get(path)} at {args.rev}, {here.get(path)} here")
        else:
            matched += 1
    for path in METRICS:
        old, new = flat(json.loads(at_rev(args.rev, path))), flat(json.loads(Path(path).read_text()))
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                problems.append(f"{path} {key}: {old.get(key)} at {args.rev}, {new.get(key)} here")
            else:
                matched += 1
    changed = subprocess.run(["git", "diff", "--name-only", args.rev, "--"], capture_output=True, text=True).stdout
    problems += [f"git: {path} differs from {args.rev}" for path in changed.split()]
    for line in problems:
        print(f"DIFFERENT  {line}")
    print(
        f"{matched} output hashes and metrics identical to {args.rev}, {len(problems)} different "
        f"(then git diff {args.rev}: {len(changed.split())} files differ)"
    )
    print(f"models/best: {here.get('models/best')}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
