"""Run the train stage and SIGKILL it from inside at optimizer step argv[1]:
a hard kill at a known point (no cleanup, no atexit), for the resume test.
With argv[2] and argv[3], first sleep argv[3] seconds at step argv[2] (a slow
stretch of the interrupted epoch, whose time the resumed run must carry over)."""

import os
import signal
import sys
import time

from transformers import TrainerCallback

import stages.train as stage
from sentiment_pipeline.steps import train as step


class SigkillAtStep(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            print(f"SIGKILL at step {self.step}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


class SleepAtStep(TrainerCallback):
    def __init__(self, step: int, seconds: float) -> None:
        self.step, self.seconds = step, seconds

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            time.sleep(self.seconds)


_train = step.fit  # what the train stage's step calls to train


def train_then_die(*args, callbacks=None, **kwargs):
    extra = [SleepAtStep(int(sys.argv[2]), float(sys.argv[3]))] if len(sys.argv) > 3 else []
    return _train(*args, **kwargs, callbacks=[*(callbacks or []), *extra, SigkillAtStep(int(sys.argv[1]))])


step.fit = train_then_die
stage.main([])  # the stage script, with its default paths
