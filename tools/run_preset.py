"""Run a named configuration (presets/<name>.yaml) as one DVC experiment.

    python tools/run_preset.py full_scale                 # dvc exp run -n full_scale -S ...
    python tools/run_preset.py full_scale --print         # only print the command
    python tools/run_preset.py full_scale -- --queue      # extra arguments go to dvc exp run

A preset is a flat mapping of dotted params (as `dvc exp run -S` takes them) over
params.yaml. It is validated against the params schema before DVC starts, so a
typo fails in a second with the key named, not after the data stages.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from sentiment_pipeline.config import load_params, read_yaml, with_overrides
from sentiment_pipeline.errors import PipelineInputError

PRESETS = Path("presets")


def load_preset(name: str, presets: Path = PRESETS) -> dict:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise PipelineInputError(f"a preset is a file name in {presets}/ without .yaml (e.g. full_scale), not {name!r}")
    path = presets / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in presets.glob("*.yaml"))
        raise PipelineInputError(f"no preset {name!r} ({path} not found); presets: {', '.join(known) or 'none'}")
    overrides = read_yaml(path.read_text()) or {}
    if not isinstance(overrides, dict):
        raise PipelineInputError(f"{path}: expected a mapping of dotted params, e.g. train.epochs: 3")
    return overrides


def settings(overrides: dict) -> list[str]:
    """`overrides` checked against params.yaml (a ParamsError names a bad key or value),
    as the key=value strings `dvc exp run -S` takes."""
    with_overrides(load_params(), overrides)
    return [
        f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
        for key, value in overrides.items()
    ]


def command(name: str, overrides: dict, extra: list[str]) -> list[str]:
    """The `dvc exp run` command that applies `overrides` (checked against params.yaml)."""
    return [
        "dvc",
        "exp",
        "run",
        "-n",
        name.replace("_", "-"),
        *[a for s in settings(overrides) for a in ("-S", s)],
        *extra,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="a file in presets/, without .yaml")
    parser.add_argument("--print", action="store_true", help="print the command instead of running it")
    parser.add_argument("extra", nargs="*", help="after --: more arguments for dvc exp run")
    args = parser.parse_args()
    try:
        cmd = command(args.name, load_preset(args.name), args.extra)
    except PipelineInputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(shlex.join(cmd), flush=True)
    if not args.print:
        sys.exit(subprocess.call(cmd, env={**os.environ, "DVC_NO_ANALYTICS": "1"}))


if __name__ == "__main__":
    main()
