"""The local team stack: PostgreSQL, an S3 store and an MLflow tracking server, as a
team would run them on shared servers, here on 127.0.0.1 (docs/team.md).

    python -m sentiment_pipeline.team up [--home DIR] [--auth]   # prints what to export
    python -m sentiment_pipeline.team status | env | down

- PostgreSQL holds MLflow's runs and registry (database `mlflow`), its users
  (`mlflow_auth`, with --auth) and the Optuna studies (`optuna`), as user `team`;
- SeaweedFS's S3 gateway holds MLflow's artifacts (bucket `mlflow`, proxied by
  the server: clients need no S3 credentials) and the DVC remote (bucket `dvc`);
- `mlflow server`, with `--app-name basic-auth` under --auth.
Passwords come from the environment (TEAM_DB_PASSWORD, TEAM_S3_ACCESS_KEY,
TEAM_S3_SECRET_KEY, TEAM_MLFLOW_PASSWORD), else are generated; they live only in
the stack's folder (mode 600), never in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sentiment_pipeline.team import services as sv

DEFAULT_HOME = Path(os.environ.get("TEAM_STACK_HOME", ".team"))  # in the project, git-ignored
SERVICES = ("postgres", "s3", "mlflow")  # started in this order, stopped in reverse
BUCKETS = ("mlflow", "dvc")
DATABASES = ("mlflow", "mlflow_auth", "optuna")


@dataclass
class Stack:
    home: Path
    auth: bool = False
    ports: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    pg_root: str | None = None  # PostgreSQL's folder (outside `home` when run as root)

    # -- what clients use ------------------------------------------------------------
    def db_url(self, database: str, password: str | None = None) -> str:
        pw = self.secrets["db_password"] if password is None else password
        return f"postgresql+psycopg2://team:{pw}@{sv.HOST}:{self.ports['postgres']}/{database}"

    @property
    def s3_url(self) -> str:
        return f"http://{sv.HOST}:{self.ports['s3']}"

    @property
    def tracking_uri(self) -> str:
        return f"http://{sv.HOST}:{self.ports['mlflow']}"

    def client_env(self) -> dict[str, str]:
        """What to export to point the pipeline at the stack (and to push to its DVC remote)."""
        env = {
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "SENTIMENT_SEARCH_STORAGE": self.db_url("optuna"),
            "AWS_ACCESS_KEY_ID": self.secrets["s3_access_key"],
            "AWS_SECRET_ACCESS_KEY": self.secrets["s3_secret_key"],
        }
        if self.auth:
            env |= {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": self.secrets["mlflow_password"]}
        return env

    def dvc_remote_commands(self, name: str = "team") -> list[str]:
        return [
            f"dvc remote add -d {name} s3://dvc/pipeline",
            f"dvc remote modify {name} endpointurl {self.s3_url}",
        ]

    # -- state -------------------------------------------------------------------------
    def save(self) -> None:
        path = self.home / "stack.json"
        path.write_text(json.dumps(asdict(self) | {"home": str(self.home)}, indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, home: Path = DEFAULT_HOME) -> Stack:
        path = Path(home) / "stack.json"
        if not path.is_file():
            raise sv.StackError(f"no stack in {home}: start one with `python -m sentiment_pipeline.team up`")
        raw = json.loads(path.read_text())
        return cls(Path(raw["home"]), raw["auth"], raw["ports"], raw["secrets"], raw.get("pg_root"))

    def running(self) -> dict[str, bool]:
        return {name: sv.pid_of(name, self.home) is not None for name in SERVICES}


def new_stack(home: Path = DEFAULT_HOME, auth: bool = False) -> Stack:
    """A stack's settings: free loopback ports, and the passwords (environment, else generated)."""
    ports: dict[str, int] = {}
    for name in ("postgres", "s3", "weed_master", "weed_volume", "weed_filer", "mlflow"):
        ports[name] = sv.free_port(set(ports.values()) | {p + 10000 for p in ports.values()})
    made = {
        "db_password": os.environ.get("TEAM_DB_PASSWORD") or secrets.token_urlsafe(16),
        "postgres_password": secrets.token_urlsafe(16),
        "s3_access_key": os.environ.get("TEAM_S3_ACCESS_KEY") or "team" + secrets.token_hex(6),
        "s3_secret_key": os.environ.get("TEAM_S3_SECRET_KEY") or secrets.token_urlsafe(24),
        "mlflow_password": os.environ.get("TEAM_MLFLOW_PASSWORD") or secrets.token_urlsafe(16),
        "flask_secret": secrets.token_urlsafe(24),
    }
    return Stack(Path(home), auth, ports, made)


def up(home: Path = DEFAULT_HOME, auth: bool = False) -> Stack:
    """Start the three servers (a stack already running in `home` is refused); on a failure,
    whatever started is stopped again before the StackError goes up."""
    from sentiment_pipeline.team import start

    home = Path(home).resolve()  # the servers get absolute paths, whatever their working directory
    if (home / "stack.json").is_file() and any(Stack.load(home).running().values()):
        raise sv.StackError(f"a stack is already running in {home}: `python -m sentiment_pipeline.team down` first")
    if home.exists() and any(home.iterdir()):  # a stopped stack's runs and remote, or anything else: kept
        raise sv.StackError(
            f"{home} is not empty (a stopped stack's data, or other files): remove it to start a new stack there, "
            "or pass another --home"
        )
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o711)  # the postgres user must reach its data folder inside
    stack = new_stack(home, auth)
    stack.save()
    try:
        start.postgres(stack)
        start.s3(stack)
        start.mlflow(stack)
    except BaseException:
        down(home)
        raise
    return stack


def down(home: Path = DEFAULT_HOME) -> list[str]:
    """Stop every server of the stack in `home`; the names of those that were running."""
    home = Path(home)
    stopped = []
    for name in reversed(SERVICES):
        first = signal.SIGINT if name == "postgres" else signal.SIGTERM  # PostgreSQL's fast shutdown
        if sv.stop(name, home, first):
            stopped.append(name)
    if (home / "stack.json").is_file():
        pg_root = Stack.load(home).pg_root
        if pg_root and not Path(pg_root).is_relative_to(home):
            shutil.rmtree(pg_root, ignore_errors=True)  # its /tmp folder: the stack's data goes with it
    return stopped


def kill(stack: Stack, name: str) -> None:
    """Stop one server at once (SIGKILL), as a crash would: the fault tests use it."""
    pid = sv.pid_of(name, stack.home)
    if pid is not None:
        os.killpg(pid, signal.SIGKILL)
        while sv.alive(pid):
            time.sleep(0.1)


def print_env(stack: Stack, out=sys.stdout) -> None:
    """The shell lines that point the pipeline at `stack` (secrets written out: they are this stack's own)."""
    for key, value in stack.client_env().items():
        print(f"export {key}='{value}'", file=out)
    for cmd in stack.dvc_remote_commands():
        print(f"# {cmd}", file=out)
