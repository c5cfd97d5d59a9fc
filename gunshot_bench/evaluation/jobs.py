"""The `Job` protocol that an engine runs, and `Failure`, what a part that could not run left.

A job is a small picklable object with a `label` (for progress and errors), the `resources`
it needs (CPUs and memory: a Ray task declares them, the local engine ignores them) and a
`run()` that does the work and returns something small (paths, messages). Engines know
nothing else about a job: training and scoring jobs are defined by the modules that own them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

GIB = 1024 ** 3


@dataclass(frozen=True)
class Resources:
    """What one job needs: CPU cores and memory in bytes (Ray schedules tasks by them)."""

    cpus: float = 1.0
    memory_bytes: int = 2 * GIB

    def __post_init__(self):
        if self.cpus <= 0 or self.memory_bytes <= 0:
            raise ValueError(f"Resources need cpus > 0 and memory_bytes > 0, got {self}")


@runtime_checkable
class Job(Protocol):
    """One unit of work: `label`, `resources` and `run()`."""

    @property
    def label(self) -> str: ...

    @property
    def resources(self) -> Resources: ...

    def run(self) -> Any: ...


@dataclass(frozen=True)
class Failure:
    """A part of a run that could not be done, and why.

    Attributes:
        part: what failed, e.g. "svm/model" or "svm/model/segment" or "study B".
        error: the reason, e.g. "seed0: ValueError: ..." (one line).
        entry, task, protocol, seed: the fields of `part`, where they apply (no parsing of
            `part` is ever needed: a caller that skips failed entries reads `entry` and `task`).
    """

    part: str
    error: str
    entry: str | None = None
    task: str | None = None
    protocol: str | None = None
    seed: int | None = None

    def __str__(self) -> str:
        return f"{self.part}: {self.error}"


def error_text(exc: BaseException) -> str:
    """"TypeName: message": how a job's exception is reported."""
    return f"{type(exc).__name__}: {exc}"
