"""Helpers for tests that start a server on 127.0.0.1 in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(server: subprocess.Popen, url: str, timeout_s: float) -> None:
    """Poll `url` until it answers 200; fail with the server's output if it exits first."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert server.poll() is None, server.stdout.read()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s")


@contextmanager
def running_server(cmd: list[str], cwd: Path, env: dict, ready_url: str, timeout_s: float) -> Iterator[None]:
    """`cmd` as a server in its own session, until `ready_url` answers; stopped (its whole group) after."""
    server = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        wait_until_up(server, ready_url, timeout_s)
        yield
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
