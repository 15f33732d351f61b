"""Shared fixtures: a tiny IMDB-layout dataset and a tiny BERT, built once per session."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# Everything the suite and the programs it starts write goes into one scratch folder,
# removed at the end: pytest's tmp_path folders, the Hugging Face, matplotlib,
# XDG and DVC site caches, and what libraries drop into the temp dir (gradio
# uploads, torchinductor, torchelastic, MLflow artifact downloads). Set before
# any of them is imported. After a failure the folder is kept for inspection
# and its path printed.
# (a pytest-xdist worker makes its own inside the main process's: short, since chromium's
# socket path there must stay under 108 bytes)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
SCRATCH = Path(tempfile.mkdtemp(prefix=f"{_WORKER}-" if _WORKER else "sentiment-pipeline-tests-"))
tempfile.tempdir = str(SCRATCH)
os.environ.update(
    TMPDIR=str(SCRATCH),
    HF_HOME=str(SCRATCH / "hf_home"),
    GRADIO_TEMP_DIR=str(SCRATCH / "gradio"),
    MPLCONFIGDIR=str(SCRATCH / "matplotlib"),
    XDG_CONFIG_HOME=str(SCRATCH / "config"),  # chromium's profile and crash reports (the demo's browser test)
    XDG_CACHE_HOME=str(SCRATCH / "cache"),
    DVC_SITE_CACHE_DIR=str(SCRATCH / "dvc_site_cache"),  # else /var/tmp/dvc/repo/<hash> per test repository
    # offline and quiet, whatever the machine has
    DVC_NO_ANALYTICS="1",
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    TOKENIZERS_PARALLELISM="false",
    MLFLOW_ENABLE_ASYNC_LOGGING="false",
    GRADIO_ANALYTICS_ENABLED="False",
    SENTIMENT_PIPELINE_MIN_FREE_GB="0.2",  # the tiny runs write megabytes; test_disk_space checks the default
)
# one torch thread per process: the tiny models gain nothing from more, and pytest-xdist's
# workers and the stages they start would otherwise fight over the cores (the fast subset
# took 121 s on 2 workers with the default threads, 207 s of CPU)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("DVC_ROOT", None)

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tests.fixtures import make_imdb_like, make_tiny_bert  # noqa: E402
from tests.helpers import run_stages, tiny_params, train_workspace  # noqa: E402


def pytest_sessionfinish(session, exitstatus) -> None:
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        shutil.rmtree(SCRATCH, ignore_errors=True)
    else:
        print(f"\ntest scratch folder kept for inspection: {SCRATCH}", file=sys.stderr)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, for the browser tests (the demo, the plots page): needed in CI."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        message = "Debian's chromium is needed for the browser tests: apt-get install chromium"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def imdb_dir(tmp_path_factory) -> Path:
    return make_imdb_like(tmp_path_factory.mktemp("data") / "imdb")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, imdb_dir) -> Path:
    corpus = pd.read_parquet(imdb_dir / "plain_text" / "train-00000-of-00001.parquet")["text"].tolist()
    return make_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert", corpus)


@pytest.fixture(scope="session")
def tokenized_workspace(tmp_path_factory, imdb_dir, tiny_model_dir) -> Path:
    """A workspace (params.yaml for the tiny fixtures) after download, clean and
    tokenize. Copy it before writing to it."""
    import yaml

    root = tmp_path_factory.mktemp("tokenized")
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(imdb_dir, tiny_model_dir)))
    return run_stages(root, "download", "clean", "tokenize")


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory, tokenized_workspace) -> Path:
    """The tiny model trained for one epoch (models/best in the returned folder). Read only."""
    return train_workspace(tmp_path_factory.mktemp("trained"), tokenized_workspace)


@pytest.fixture(scope="module")
def trained(trained_workspace) -> Path:
    """trained_workspace under the short name the analyzer's API and CLI tests use. Read only."""
    return trained_workspace
