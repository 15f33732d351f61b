"""The validate stage's own messages: a bad value left in params.yaml by a failed
`dvc exp run -S` is named as such, with the way back."""

import subprocess

import pytest
import yaml

from sentiment_pipeline.config import Params
from sentiment_pipeline.params_diff import params_changed_since_head


@pytest.fixture
def repo(tmp_path, monkeypatch):
    params = Params().model_dump(exclude={"search"})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "params"]):
        subprocess.run(cmd, cwd=tmp_path, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return tmp_path


def edit(path, **train):
    params = yaml.safe_load(path.read_text())
    params["train"].update(train)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_the_params_that_differ_from_head_are_listed(repo, monkeypatch):
    assert params_changed_since_head() == []
    edit(repo / "params.yaml", epochs=0, lr=1e-4)
    assert params_changed_since_head() == ["train.epochs", "train.lr"]
    monkeypatch.setenv("DVC_ROOT", str(repo.parent))  # a queued experiment's copy: differs by design
    assert params_changed_since_head() == []


def test_a_bad_value_left_by_a_failed_experiment_is_named_with_the_way_back(repo, capsys):
    import stages.validate as validate

    edit(repo / "params.yaml", epochs=0)
    with pytest.raises(SystemExit) as exit_info:
        validate.main([str(repo / "reports" / "params_check.json")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "train.epochs: Input should be greater than 0" in err
    assert "params.yaml differs from git HEAD in train.epochs" in err and "git checkout params.yaml" in err
