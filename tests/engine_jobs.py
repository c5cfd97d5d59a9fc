"""Small jobs for the engine tests, in a module of their own: a spawned worker imports the
module of the job it unpickles, and this one imports almost nothing."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from gunshot_bench.evaluation.jobs import Resources


@dataclass(frozen=True)
class Square:
    x: int

    @property
    def label(self) -> str:
        return f"square/{self.x}"

    @property
    def resources(self) -> Resources:
        return Resources(cpus=1, memory_bytes=2**28)

    def run(self) -> int:
        if self.x < 0:
            raise ValueError(f"negative: {self.x}")
        return self.x * self.x


@dataclass(frozen=True)
class KillItself:
    """A job whose process is killed as the out-of-memory killer would kill it."""

    @property
    def label(self) -> str:
        return "killed"

    @property
    def resources(self) -> Resources:
        return Resources(cpus=1, memory_bytes=2**28)

    def run(self) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0  # never reached
