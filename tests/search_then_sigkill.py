"""Run tools/hparam_search.py and SIGKILL it from inside at step 2 of its second
trial: a hard kill at a known point (the first trial finished, the second
running with its MLflow run open), for the resume test. No polling, no race."""

import os
import runpy
import signal
import sys
from pathlib import Path

from transformers import TrainerCallback

import sentiment_pipeline.training.search as search


class SigkillAtStep(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 2:
            os.kill(os.getpid(), signal.SIGKILL)


_train, _calls = search.train, []


def train_then_die(*args, callbacks=None, **kwargs):
    _calls.append(1)
    extra = [SigkillAtStep()] if len(_calls) == 2 else []
    return _train(*args, **kwargs, callbacks=[*(callbacks or []), *extra])


search.train = train_then_die
sys.argv = ["hparam_search.py"]
runpy.run_path(str(Path(__file__).resolve().parents[1] / "tools" / "hparam_search.py"), run_name="__main__")
