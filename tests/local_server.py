"""Helpers for tests that start a server on 127.0.0.1 in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

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
