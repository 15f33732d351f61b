"""The team commands: the local stack (up, down, status, env) and the champion gate (promote).

python -m sentiment_pipeline.team up [--home DIR] [--auth]
eval "$(python -m sentiment_pipeline.team env)"       # point this shell's pipeline at it
python -m sentiment_pipeline.team promote --version 3 [--name imdb-sentiment] [--margin 0.005]
python -m sentiment_pipeline.team down
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.team import stack as team
from sentiment_pipeline.team.services import StackError


def _up(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    stack = team.up(args.home, auth=args.auth)
    print(f"team stack up in {time.perf_counter() - start:.1f} s ({args.home}); on 127.0.0.1 only:", file=sys.stderr)
    print(f"  PostgreSQL :{stack.ports['postgres']}, S3 {stack.s3_url}, MLflow {stack.tracking_uri}", file=sys.stderr)
    print(f'point a shell at it: eval "$(python -m sentiment_pipeline.team env --home {args.home})"', file=sys.stderr)
    team.print_env(stack)


def _down(args: argparse.Namespace) -> None:
    stopped = team.down(args.home)
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def _status(args: argparse.Namespace) -> None:
    stack = team.Stack.load(args.home)
    for name, up in stack.running().items():
        print(f"{name:9} {'running' if up else 'stopped'}  :{stack.ports['s3' if name == 's3' else name]}")


def _env(args: argparse.Namespace) -> None:
    team.print_env(team.Stack.load(args.home))


def _promote(args: argparse.Namespace) -> None:
    from sentiment_pipeline.team.champion import gate, load_reviews

    decision = gate(args.name, args.version, load_reviews(args.reviews), args.margin)
    print(("promoted: " if decision.promoted else "kept the champion: ") + decision.reason)
    if not decision.promoted:
        sys.exit(1)


def parser() -> argparse.ArgumentParser:
    from sentiment_pipeline.team.champion import DEFAULT_MARGIN

    p = argparse.ArgumentParser(prog="python -m sentiment_pipeline.team", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, run, help_ in (
        ("up", _up, "start PostgreSQL, the S3 store and MLflow; print the environment to export"),
        ("down", _down, "stop them (SIGTERM, a grace period, SIGKILL)"),
        ("status", _status, "which servers run"),
        ("env", _env, "print the environment that points the pipeline at the stack"),
    ):
        cmd = sub.add_parser(name, help=help_)
        cmd.add_argument(
            "--home", type=Path, default=team.DEFAULT_HOME, help="the stack's folder (data, logs, secrets)"
        )
        cmd.set_defaults(run=run)
        if name == "up":
            cmd.add_argument("--auth", action="store_true", help="MLflow's basic-auth app (user admin)")
    promote = sub.add_parser("promote", help="move @champion to a version, on the paired evidence")
    promote.add_argument("--version", required=True)
    promote.add_argument("--name", default="imdb-sentiment", help="the registered model")
    promote.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="accuracy it may lose (0.005)")
    promote.add_argument("--reviews", type=Path, default=Path("data/clean/test.parquet"))
    promote.set_defaults(run=_promote)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (StackError, PipelineInputError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
