import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sentiment_pipeline.config import ParamsError
from sentiment_pipeline.stage import run
from tests.helpers import REPO


def test_bad_input_exits_2_with_one_line(capsys):
    def main():
        raise ParamsError("params.yaml is invalid:\n  train.lr: Input should be greater than 0 (got -1)")

    with pytest.raises(SystemExit) as exit_info:
        run(main)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: params.yaml is invalid") and "Traceback" not in err


def test_other_errors_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        run(lambda: 1 / 0)


@pytest.mark.slow
def test_sigterm_closes_the_mlflow_run_as_failed(tmp_path):
    code = (
        "import os, time, mlflow\n"
        "from sentiment_pipeline.stage import run\n"
        f"mlflow.set_tracking_uri('sqlite:///{tmp_path}/mlflow.db')\n"
        "def main():\n"
        "    with mlflow.start_run() as r:\n"
        f"        open('{tmp_path}/run_id.part', 'w').write(r.info.run_id)\n"
        f"        os.replace('{tmp_path}/run_id.part', '{tmp_path}/run_id')\n"
        "        time.sleep(120)\n"
        "run(main)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    deadline = time.time() + 120
    while not (tmp_path / "run_id").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (tmp_path / "run_id").exists(), "the run never started"  # written whole (renamed), so never read half
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    run_id = (tmp_path / "run_id").read_text()
    assert MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(run_id).info.status == "FAILED"


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited (a zombie waits for init to reap it)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_stage_stops_when_the_dvc_process_that_started_it_is_killed(tmp_path):
    """DVC leaves its stage running when it is killed itself: the stage must notice."""
    ready = tmp_path / "ready"
    stage = (
        "import pathlib, time; from sentiment_pipeline.stage import run\n"
        f"run(lambda: pathlib.Path({str(ready)!r}).touch() or time.sleep(120))"
    )
    parent = (
        "import subprocess, sys\n"
        f"child = subprocess.Popen([sys.executable, '-c', {stage!r}])\n"
        "print(child.pid, flush=True)\n"
        "child.wait()\n"
    )
    dvc_like = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO, stdout=subprocess.PIPE, text=True)
    pid = int(dvc_like.stdout.readline())
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert ready.exists() and not _gone(pid)
    dvc_like.kill()  # SIGKILL: no handler of its own runs
    dvc_like.wait()
    started = time.time()
    while not _gone(pid) and time.time() - started < 10:
        time.sleep(0.05)
    assert _gone(pid), "the stage kept running after its parent was killed"
    assert time.time() - started < 5


def test_sigint_stops_a_stage_started_with_sigint_ignored(tmp_path):
    """`dvc repro &` from a script starts with SIGINT ignored; Ctrl-C (or kill -INT) must still stop it."""
    ready = tmp_path / "ready"
    stage = (
        "import pathlib, time; from sentiment_pipeline.stage import run\n"
        f"run(lambda: pathlib.Path({str(ready)!r}).touch() or time.sleep(120))"
    )
    ignored = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = subprocess.Popen([sys.executable, "-c", stage], cwd=REPO, preexec_fn=ignored, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    started = time.time()
    proc.wait(timeout=20)
    assert proc.returncode == 128 + signal.SIGINT and time.time() - started < 5
    err = proc.stderr.read().decode()
    assert err.startswith("interrupted: ") and "Traceback" not in err
