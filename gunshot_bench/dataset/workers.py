"""Run one job per item in worker processes that may die or hang without taking the caller along.

`multiprocessing.Pool` waits for ever when the kernel's out-of-memory killer ends a worker,
and `concurrent.futures` fails every pending job at once without saying which one killed
it. Here each worker takes one item at a time over its own pipe, so a death is pinned on the
item it was working on: that item is reported failed ("worker died (signal 9, SIGKILL; likely
out of memory)"), a fresh worker takes its place, and the rest go on. An item that runs past
`timeout_s` is killed the same way. Each worker reports its peak resident memory with every
result. The build decodes files this way, and the local evaluation engine
(`evaluation.engine.LocalEngine`) runs its trainings this way.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait


@dataclass(frozen=True)
class Failed:
    """An item whose worker died or ran out of time; `reason` is for a person."""

    reason: str


@dataclass
class MemoryUse:
    """Peak resident memory (MiB): the parent's, each worker's by pid, and at most `workers` at once."""

    workers: int = 1
    parent_peak_mb: float = 0.0
    worker_peak_mb: dict[int, float] = field(default_factory=dict)
    children_peak_mb: float = 0.0  # the kernel's figure over every ended worker, killed ones included
    started: int = 0

    def as_dict(self) -> dict:
        peaks = sorted(self.worker_peak_mb.values())
        worst = max([self.children_peak_mb, *peaks])
        return {"parent_peak_rss_mb": round(self.parent_peak_mb, 1),
                "worker_peak_rss_mb": round(worst, 1),
                "worker_peaks_rss_mb": [round(p, 1) for p in peaks],  # each worker that finished a file
                "workers_started": self.started,
                # every live process at its own peak at the same moment: an upper bound of the build's peak
                "build_peak_rss_bound_mb": round(self.parent_peak_mb + worst * self.workers, 1)}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _serve(func: Callable, conn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        index, item = job
        error = None
        try:
            value = func(item)
        except MemoryError:
            value = Failed("out of memory while processing (MemoryError)")
        except Exception:  # a bug: the parent raises it with this traceback
            value, error = None, traceback.format_exc()
        conn.send((index, value, peak_rss_mb(), error))


class _Worker:
    def __init__(self, ctx, func: Callable, daemon: bool = True):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(func, child), daemon=daemon)
        self.process.start()
        child.close()
        self.job: int | None = None
        self.deadline = float("inf")
        self.peak_mb = 0.0
        self.cost = 0

    def give(self, index: int, item, timeout_s: float | None, cost: int = 0) -> None:
        self.job, self.cost = index, cost
        self.deadline = float("inf") if timeout_s is None else time.monotonic() + timeout_s
        self.conn.send((index, item))

    def stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.process.join(timeout=None if kill else 10)
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.join()
        self.conn.close()


def death_reason(exitcode: int | None) -> str:
    """Why a worker process ended mid-item, from its exit code (negative: the signal that killed it).

    SIGKILL is what the kernel's out-of-memory killer sends, hence the hint; another signal
    (e.g. SIGSEGV, a crash in native code) or an exit code gets no guess.
    """
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        hint = "; likely out of memory" if -exitcode == signal.SIGKILL else ""
        return f"worker died (signal {-exitcode}, {name}{hint})"
    return f"worker died (exit code {exitcode})"


def run_isolated(func: Callable, items: Iterable, workers: int = 1, timeout_s: float | None = 3600.0,
                 memory: MemoryUse | None = None, *, start_method: str = "fork", daemon: bool = True,
                 cost: Callable[[object], int] | None = None,
                 budget: int | None = None) -> Iterator[tuple[int, object]]:
    """Yield (index, func(item) or Failed) for every item, in completion order.

    `func` runs in worker processes (`start_method` "fork", or "spawn" for a fresh interpreter;
    non-`daemon` workers may start processes of their own); an exception other than MemoryError
    is a bug and is raised here with the worker's traceback text. `timeout_s` None: no limit.
    Peak memory lands in `memory`.

    With `cost` and `budget`, an item starts only while the costs of the items running, its
    own included, stay within `budget` (e.g. declared memory against the memory available):
    the next item waits for running ones to finish, and an item that alone exceeds the budget
    runs alone. Items start in their order either way.
    """
    ctx = multiprocessing.get_context(start_method)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # Items are drawn as workers take them, never listed: a build's records stay on disk.
    todo = enumerate(items)
    head = list(itertools.islice(todo, max(1, workers)))
    todo = itertools.chain(head, todo)
    memory = memory if memory is not None else MemoryUse()
    memory.workers = max(1, workers)

    def start() -> _Worker:
        memory.started += 1
        return _Worker(ctx, func, daemon)

    def fits(item) -> bool:
        if cost is None or budget is None or not busy:
            return True
        return sum(w.cost for w in pool if w.job is not None) + cost(item) <= budget

    pool = [start() for _ in range(len(head))]
    busy = 0
    nxt = next(todo, None)
    try:
        while nxt is not None or busy:
            for w in pool:
                if w.job is None and nxt is not None and fits(nxt[1]):
                    w.give(*nxt, timeout_s, 0 if cost is None else cost(nxt[1]))
                    nxt = next(todo, None)
                    busy += 1
            active = [w for w in pool if w.job is not None]
            soonest = min(w.deadline for w in active)
            wait_s = None if soonest == float("inf") else max(0.0, soonest - time.monotonic())
            ready = set(wait([w.conn for w in active] + [w.process.sentinel for w in active], timeout=wait_s))
            for i, w in enumerate(pool):
                if w.job is None:
                    continue
                outcome = None
                if w.conn in ready:
                    try:
                        index, value, peak, error = w.conn.recv()
                    except EOFError:
                        pass  # died before it could answer: its sentinel is ready too
                    else:
                        if error:
                            raise RuntimeError(f"a worker failed on item {index}:\n{error}")
                        w.peak_mb = max(w.peak_mb, peak)
                        memory.worker_peak_mb[w.process.pid] = w.peak_mb
                        outcome = (index, value)
                if outcome is None and (w.process.sentinel in ready or not w.process.is_alive()):
                    w.process.join()
                    outcome = (w.job, Failed(death_reason(w.process.exitcode)))
                    w.conn.close()
                    pool[i] = w = start()
                elif outcome is None and time.monotonic() >= w.deadline:
                    job = w.job
                    w.stop(kill=True)
                    outcome = (job, Failed(f"timed out after {timeout_s:g} s (the per-file limit); worker stopped"))
                    pool[i] = w = start()
                if outcome is not None:
                    w.job, w.deadline, w.cost = None, float("inf"), 0
                    busy -= 1
                    yield outcome
    finally:
        for w in pool:
            w.stop(kill=w.job is not None)
        memory.parent_peak_mb = peak_rss_mb()
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if children > children_before:  # the figure is a maximum over the process's life: new only if it rose
            memory.children_peak_mb = children
