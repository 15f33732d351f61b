"""Run the train stage and SIGKILL it from inside at optimizer step argv[1]:
a hard kill at a known point (no cleanup, no atexit), for the resume test."""

import os
import signal
import sys

from transformers import TrainerCallback

import stages.train as stage
from sentiment_pipeline.stage import run


class SigkillAtStep(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            print(f"SIGKILL at step {self.step}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


_train = stage.train


def train_then_die(*args, callbacks=None, **kwargs):
    return _train(*args, **kwargs, callbacks=[*(callbacks or []), SigkillAtStep(int(sys.argv[1]))])


stage.train = train_then_die
run(stage.main)
