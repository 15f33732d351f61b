import signal
import subprocess
import sys
import time

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
