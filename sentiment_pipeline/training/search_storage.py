"""Where the Optuna study lives: a journal file beside the search's outputs (one
machine, the zero-set-up default), or a database that N workers on N machines
share (SENTIMENT_SEARCH_STORAGE=postgresql+psycopg2://..., Optuna's RDBStorage).

A shared study is not locked to one process: every worker that opens it joins
it. Trials a dead worker left RUNNING are failed by Optuna's heartbeat and
retried by its RetryHeartbeatStaleTrialCallback, instead of by a restart of one worker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
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
    for attempt in range(3):
        try:
            return _rdb_storage(url)
        except Exception as err:  # SQLAlchemy's errors: a wrong password, an unreachable host, ...
            racing = any(words in str(err) for words in ("duplicate key", "already exists"))
            if racing and attempt < 2:  # another worker was creating Optuna's tables at that moment
                time.sleep(1 + attempt)
                continue
            reason = str(err).strip().splitlines()[0][:200].replace(urlparse(url).password or "\0", "***")
            message = f"the search storage {shown(url)} cannot be used ({reason}): check {STORAGE_ENV}"
            raise PipelineInputError(message) from err
    raise AssertionError("unreachable")


def _rdb_storage(url: str) -> RDBStorage:
    return RDBStorage(
        url,
        heartbeat_interval=HEARTBEAT_S,
        grace_period=2 * HEARTBEAT_S,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        engine_kwargs={"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}},
    )
