"""`up` starts only in a new or empty folder: what is already there is never removed."""

from __future__ import annotations

import json

import pytest

from sentiment_pipeline.team import services
from sentiment_pipeline.team import stack as team


def test_up_in_a_folder_with_files_is_refused_and_the_files_stay(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(services.StackError, match="is not empty") as err:
        team.up(tmp_path)
    assert "\n" not in str(err.value) and "--home" in str(err.value)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_stopped_stacks_data_is_kept_not_replaced(tmp_path):
    stopped = team.new_stack(tmp_path)
    stopped.save()
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / "PG_VERSION").write_text("15")
    with pytest.raises(services.StackError, match="stopped stack"):
        team.up(tmp_path)
    assert (tmp_path / "pgdata" / "PG_VERSION").read_text() == "15"
    assert json.loads((tmp_path / "stack.json").read_text())["ports"] == stopped.ports
