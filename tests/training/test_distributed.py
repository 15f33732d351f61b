"""train.processes=2: the train stage restarts itself under torchrun, two CPU
processes (gloo) train one DistributedDataParallel model; rank 0 alone writes."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.helpers import REPO

pytestmark = pytest.mark.slow  # DVC / multi-process / subprocess runs: `pytest -m 'not slow'` skips them


def test_two_gloo_processes_write_one_model_and_one_run(tokenized_workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(tokenized_workspace, root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["processes"] = 2
    (root / "params.yaml").write_text(yaml.safe_dump(params))

    result = subprocess.run(
        [sys.executable, "-m", "stages.train"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "torch.distributed.run" in output and "--nproc_per_node=2" in output

    assert (root / "models/best/model.safetensors").is_file()
    assert not list((root / "models/best").glob("*.bin"))
    metrics = json.loads((root / "metrics/train.json").read_text())
    assert metrics["epochs_run"] == 3 and metrics["n_train"] == 96
    history = pd.read_csv(root / "reports/train_history.csv")
    # each optimizer step takes one batch per process: half the steps of one process
    assert list(history["step"]) == [12, 24, 36]

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("imdb-sentiment").experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.tags["processes"] == "2"
    # rank 0 alone logged: one value per epoch, not two
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_f1")] == [1, 2, 3]
    # validation gathered from both ranks: the best epoch's scores are those of the saved model on the
    # whole validation split (each rank alone scores half of it: 12 of 24 reviews)
    import numpy as np
    from datasets import load_from_disk

    from sentiment_pipeline.evaluation.calibration import probabilities
    from sentiment_pipeline.evaluation.metrics import classification_metrics
    from sentiment_pipeline.inference.predictor import predict_folder

    validation = load_from_disk(str(root / "data/tokenized"))["validation"]
    margins, _ = predict_folder(root / "models/best", validation)
    scores = classification_metrics(np.asarray(validation["label"]), probabilities(margins))
    assert metrics["n_validation"] == len(validation) == 24
    assert metrics["val_log_loss"] == pytest.approx(scores["log_loss"], abs=1e-4)
    assert metrics["val_accuracy"] == pytest.approx(scores["accuracy"])
