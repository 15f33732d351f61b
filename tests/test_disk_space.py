"""A nearly full disk is named before a stage writes, not reported as success by DVC."""

import shutil
from collections import namedtuple

import pytest

from sentiment_pipeline import disk_space
from sentiment_pipeline.errors import PipelineInputError

Usage = namedtuple("Usage", "total used free")


def test_too_little_free_space_stops_with_one_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(disk_space.MIN_FREE_ENV, raising=False)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - 2 * 10**9, 2 * 10**9))
    with pytest.raises(PipelineInputError, match=r"the workspace \(.*\) has 2.0 GB free, less than the 3 GB"):
        disk_space.check_free_space()
    monkeypatch.setenv(disk_space.MIN_FREE_ENV, "1.5")
    disk_space.check_free_space()  # 2 GB free is enough for a 1.5 GB threshold


def test_the_dvc_cache_is_checked_where_it_lives(monkeypatch, tmp_path):
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True)
    cache = tmp_path / "elsewhere"
    cache.mkdir()
    subprocess.run(["dvc", "cache", "dir", str(cache)], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    seen = []

    def usage(path):
        seen.append(str(path))
        return Usage(10**12, 0, 10**6 if str(path).startswith(str(cache)) else 10**12)

    monkeypatch.setattr(shutil, "disk_usage", usage)
    with pytest.raises(PipelineInputError, match="the DVC cache"):
        disk_space.check_free_space(10**9)
