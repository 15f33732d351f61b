"""The local stack itself: loopback only, one stack per folder, nothing left running after `down`."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from sentiment_pipeline.team import services
from sentiment_pipeline.team import stack as team

pytestmark = pytest.mark.slow  # real servers


def processes(stack) -> list[psutil.Process]:
    found = []
    for name in team.SERVICES:
        pid = services.pid_of(name, stack.home)
        if pid is not None:
            parent = psutil.Process(pid)
            found += [parent, *parent.children(recursive=True)]
    return found


def test_every_server_listens_on_loopback_only(stack):
    assert stack.running() == dict.fromkeys(team.SERVICES, True)
    listening = [
        c.laddr for p in processes(stack) for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
    ]
    assert {addr.port for addr in listening} >= {stack.ports["postgres"], stack.ports["s3"], stack.ports["mlflow"]}
    assert {addr.ip for addr in listening} == {services.HOST}


def test_a_second_up_is_refused_and_down_leaves_no_process(tmp_path, stack):
    with pytest.raises(services.StackError, match="already running"):
        team.up(stack.home)
    other = team.up(tmp_path / "other")
    running = processes(other)
    assert len(running) >= 3
    assert sorted(team.down(tmp_path / "other")) == sorted(team.SERVICES)
    assert not [p for p in running if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert other.pg_root is None or not Path(other.pg_root).exists()  # its /tmp folder went with it
