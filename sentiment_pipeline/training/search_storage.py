"""Where the Optuna study lives: a journal file beside the search's outputs (one
machine, the zero-set-up default), or a database that N workers on N machines
share (SENTIMENT_SEARCH_STORAGE=postgresql+psycopg2://..., Optuna's RDBStorage).

A shared study is not locked to one process: every worker that opens it joins
it. Trials a dead worker left RUNNING are failed by Optuna's heartbeat and
retried by its RetryFailedTrialCallback, instead of by a restart of one worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryFailedTrialCallback
from optuna.storages.journal import JournalFileBackend

from sentiment_pipeline.errors import PipelineInputError

STORAGE_ENV = "SENTIMENT_SEARCH_STORAGE"
HEARTBEAT_S = 30


def storage_url() -> str | None:
    return os.environ.get(STORAGE_ENV) or None


def shown(url: str) -> str:
    """`url` without its password, for messages."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return url.replace(f":{parsed.password}@", ":***@", 1)


def open_storage(journal: Path) -> optuna.storages.BaseStorage:
    """The database SENTIMENT_SEARCH_STORAGE names, else the journal file `journal`."""
    url = storage_url()
    if url is None:
        return JournalStorage(JournalFileBackend(str(journal)))
    try:
        return RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT_S,
            grace_period=2 * HEARTBEAT_S,
            failed_trial_callback=RetryFailedTrialCallback(max_retry=1),
            engine_kwargs={"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}},
        )
    except Exception as err:  # SQLAlchemy's OperationalError: a wrong password, an unreachable host
        reason = str(err).strip().splitlines()[0][:200].replace(urlparse(url).password or "\0", "***")
        raise PipelineInputError(
            f"the search storage {shown(url)} cannot be used ({reason}): check {STORAGE_ENV}"
        ) from err
