"""The build's decode, segment and fingerprint stage as Ray tasks (`build --engine ray`).

Each task takes a batch of files and runs the same function as the local engine's workers
(`process.process_to_store`), so the output is byte-identical to the local build: only where
the work runs changes. The tasks write each file's segment audio into the build's staging
folder and send back metadata only, so with a cluster the staging folder (beside `--out`)
must be on a filesystem every node mounts at the same path.

A batch whose worker dies (out of memory) or runs past its time is run again one file per
task, so only the file that caused it is reported failed, as with the local engine. Ray is an
optional extra (`pip install -e ".[ray]"`): this module imports it only when called.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from gunshot_bench.dataset.workers import Failed

#: Files per Ray task: large enough that task overhead (~ms) is small against decoding
#: (~10-50 ms per 2 s file), small enough that a crash re-runs little.
BATCH_FILES = 16


def _run_batch(func: Callable, batch: list[tuple[int, object]]) -> list[tuple[int, object]]:
    out = []
    for index, item in batch:
        try:
            out.append((index, func(item)))
        except MemoryError:
            out.append((index, Failed("out of memory while processing (MemoryError)")))
    return out


def init_ray(address: str | None = None, num_cpus: int | None = None):
    """Connect to the Ray cluster at `address` (or `RAY_ADDRESS`), else start a local Ray with
    `num_cpus` CPUs. Returns the `ray` module.

    Raises:
        ValueError: Ray is not installed (a one-line user error naming the extra).
    """
    try:
        import ray
    except ImportError:
        raise ValueError("--engine ray needs Ray: pip install -e \".[ray]\" (or pip install \"ray[default]\")") from None
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        kwargs = {} if address else {"num_cpus": num_cpus, "include_dashboard": False}
        ray.init(address=address, log_to_driver=False, **kwargs)
    return ray


def run_on_ray(func: Callable, items: Iterable, workers: int = 0, timeout_s: float = 3600.0,
               address: str | None = None, batch_files: int = BATCH_FILES) -> Iterator[tuple[int, object]]:
    """Yield (index, func(item) or Failed) for every item, like `workers.run_isolated`, with the
    items run as Ray tasks of `batch_files` files (one CPU each).

    At most twice the cluster's CPUs worth of batches are in flight, so the driver holds few
    items and results at a time. `workers` sets the CPUs of a local Ray (0: all cores).
    """
    ray = init_ray(address, workers or None)
    remote = ray.remote(num_cpus=1, max_retries=0)(_run_batch)
    func_ref = ray.put(func)
    in_flight = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    todo = enumerate(items)
    running: dict = {}  # ref -> (batch, deadline)

    def submit(batch: list) -> None:
        running[remote.remote(func_ref, batch)] = (batch, _now() + timeout_s * len(batch))

    def fill() -> None:
        while len(running) < in_flight:
            batch = [x for _, x in zip(range(batch_files), todo)]
            if not batch:
                return
            submit(batch)

    fill()
    while running:
        soonest = min(d for _, d in running.values())
        done, _ = ray.wait(list(running), num_returns=1, timeout=max(0.0, soonest - _now()))
        for ref in done:
            batch, _ = running.pop(ref)
            try:
                yield from ray.get(ref)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError,
                    ray.exceptions.NodeDiedError) as exc:
                yield from _retry_singly(batch, submit, running, f"worker died: likely out of memory ({type(exc).__name__})")
        for ref, (batch, deadline) in list(running.items()):
            if ref not in done and _now() >= deadline:
                ray.cancel(ref, force=True)
                running.pop(ref)
                yield from _retry_singly(batch, submit, running,
                                         f"timed out after {timeout_s:g} s (the per-file limit); worker stopped")
        fill()


def _retry_singly(batch: list, submit: Callable, running: dict, reason: str) -> Iterator[tuple[int, object]]:
    """A failed batch of one file is that file's failure; a larger one is run again file by file."""
    if len(batch) == 1:
        yield batch[0][0], Failed(reason)
        return
    for one in batch:
        submit([one])


def _now() -> float:
    import time

    return time.monotonic()
