"""Engines that run jobs: the local process pool (the default) and Ray (an optional extra).

Both run any `Job` (see `jobs`) and return `(values, errors)`: {label: what `run()` returned}
for the jobs that finished and {label: "TypeName: message"} for those that raised. One job
that fails never stops the others. Results do not depend on the engine: every job is seeded
and fixes its own thread count, and its outputs go to the paths it was given.

- `LocalEngine(workers)`: trainings in `workers` spawned processes (two on two cores),
  other jobs (scoring) in this process, as before Ray existed. Needs nothing. A worker that
  dies (e.g. killed by the out-of-memory killer) fails only its own job, "worker died
  (signal 9, SIGKILL; likely out of memory)": a fresh worker takes its place and the other
  jobs still run. Two jobs whose declared memory together exceeds the memory available when
  the run starts are not run side by side.
- `RayEngine(address)`: every job is a Ray task declaring its CPUs and memory. With an
  address (or `RAY_ADDRESS`) it joins that cluster; without one it starts a local Ray with
  this machine's cores (no dashboard, a capped object store). The package and the data must
  be reachable from every node (docs/scaling.md).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gunshot_bench import plugins
from gunshot_bench.dataset.workers import Failed, run_isolated
from gunshot_bench.errors import UserError
from gunshot_bench.evaluation.jobs import GIB, Job, error_text

log = logging.getLogger(__name__)
ENGINES = ("local", "ray")
#: The local Ray's object store: jobs pass paths and small dicts, never arrays, so a small
#: store is enough and leaves the memory to the trainings (Ray's default takes 30% of RAM).
LOCAL_OBJECT_STORE_BYTES = GIB // 2
LOCAL_START_ATTEMPTS = 3


def default_workers() -> int:
    """Two training processes on a machine with two or more cores."""
    return max(1, min(2, os.cpu_count() or 1))


def _spawnable() -> bool:
    """Spawned workers re-import `__main__`: fine for a script, a console entry point or an
    interactive session, impossible for a program read from standard input."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or Path(main_file).is_file()


def _run_job(job: Job, plugin_specs: tuple[str, ...] = ()) -> Any:
    """What a worker (a spawned process or a Ray task) runs: the user's plugins, then the job."""
    if plugin_specs:  # a fresh worker's registry holds only the package's models
        plugins.load_plugins(plugin_specs)
    return job.run()


def _run_job_caught(item: tuple[Job, tuple[str, ...]]) -> tuple[bool, Any]:
    """What a local worker process runs: (True, value), or (False, "TypeName: message") for a
    job that raised (reported like a job run in this process; the worker lives on)."""
    job, plugin_specs = item
    try:
        return True, _run_job(job, plugin_specs)
    except Exception as exc:  # noqa: BLE001 - one job that fails must not stop the rest
        log.debug("%s failed", job.label, exc_info=True)
        return False, error_text(exc)


def available_memory_bytes() -> int | None:
    """The kernel's estimate of memory available to new work (MemAvailable); None if unknown.

    Read from /proc/meminfo by hand: the standard library has no portable call for it and
    psutil is not a dependency.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def largest_node_memory(nodes: list[dict]) -> int | None:
    """The largest `memory` resource among the live nodes of `ray.nodes()`; None if none says."""
    sizes = [int(node.get("Resources", {}).get("memory", 0)) for node in nodes if node.get("Alive", True)]
    return max(sizes) if any(sizes) else None


class LocalEngine:
    """Jobs in this process, or in a pool of spawned processes (`pool=True`, e.g. trainings)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else int(workers)

    def run(self, jobs: list[Job], *, desc: str = "jobs", unit: str = "job", progress: bool = True,
            pool: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        workers = self.workers if pool else 1
        if workers > 1 and not _spawnable():
            log.info("running in this process: worker processes cannot re-import this program's __main__")
            workers = 1
        bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress or not jobs)
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                bar.set_postfix_str(job.label)
                try:
                    values[job.label] = job.run()
                except Exception as exc:  # noqa: BLE001 - one job that fails must not stop the rest
                    log.debug("%s failed", job.label, exc_info=True)
                    errors[job.label] = error_text(exc)
                bar.update()
        else:
            # One job per worker at a time over its own pipe (`dataset.workers`, as the build
            # does): a worker killed mid-job fails that job only, where a ProcessPoolExecutor
            # would fail every pending job with BrokenProcessPool.
            specs = plugins.loaded_specs()
            budget = available_memory_bytes()
            if budget is not None:
                log.debug("local engine: %.1f GiB available for jobs side by side", budget / GIB)
            outcomes = run_isolated(_run_job_caught, [(job, specs) for job in jobs], workers=workers,
                                    timeout_s=None, start_method="spawn",  # no forked torch state
                                    daemon=False,  # a job may start processes of its own
                                    cost=lambda item: int(item[0].resources.memory_bytes), budget=budget)
            for index, outcome in outcomes:
                job = jobs[index]
                if isinstance(outcome, Failed):  # the worker died: the caller reports it like any failure
                    errors[job.label] = outcome.reason
                elif outcome[0]:
                    values[job.label] = outcome[1]
                    bar.set_postfix_str(job.label)
                else:
                    errors[job.label] = outcome[1]
                bar.update()
        bar.close()
        return values, errors

    def close(self) -> None:
        """Nothing to release: the pool lives only within `run`."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _import_ray():
    try:
        import ray  # heavy and optional: imported only when the Ray engine is chosen
    except ImportError as exc:
        raise UserError("--engine ray needs Ray: pip install 'gunshot-bench[ray]' "
                        f"(cannot import ray: {exc})") from None
    return ray


class RayEngine:
    """Every job as a Ray task that declares the job's CPUs and memory.

    Args:
        address: a running cluster to join (e.g. "ray://head:10001" or "auto"); default the
            `RAY_ADDRESS` environment variable; with neither, a local Ray is started.
        num_cpus: CPUs of a local Ray (default: all of this machine's).
        object_store_bytes: object store of a local Ray.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 object_store_bytes: int = LOCAL_OBJECT_STORE_BYTES):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.object_store_bytes = object_store_bytes
        self._ray = None
        self._started = False
        self._remote = None

    def connect(self):
        """Join the cluster or start the local Ray (once); returns the `ray` module."""
        if self._ray is not None:
            return self._ray
        ray = _import_ray()
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                # a local Ray: its workers import this very package (a checkout may not be the
                # installed one), use at most `num_cpus` cores and leave the memory to the jobs
                package_root = str(Path(__file__).resolve().parents[2])
                pythonpath = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
                for attempt in range(LOCAL_START_ATTEMPTS):
                    try:
                        ray.init(num_cpus=self.num_cpus, include_dashboard=False,
                                 object_store_memory=self.object_store_bytes, log_to_driver=False,
                                 runtime_env={"env_vars": {"PYTHONPATH": pythonpath}})
                        break
                    except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for this
                        # Ray gives its raylet a fixed 30 s to register; a loaded machine can miss it
                        if "timed out during startup" not in str(exc) or attempt + 1 == LOCAL_START_ATTEMPTS:
                            raise
                        log.warning("the local Ray did not start in time (attempt %d): starting it again",
                                    attempt + 1)
                        ray.shutdown()
            self._started = True
        self._ray = ray
        self._remote = ray.remote(_run_job)
        return ray

    def run(self, jobs: list[Job], *, desc: str = "jobs", unit: str = "job", progress: bool = True,
            pool: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        if not jobs:
            return values, errors
        ray = self.connect()
        specs = plugins.loaded_specs()
        largest = largest_node_memory(ray.nodes())
        refs = {}
        for job in jobs:
            res = job.resources
            # a task that declares more memory than any node has would wait for ever (Ray calls
            # it infeasible): it asks for a whole node instead, as the local engine runs it alone
            memory = int(res.memory_bytes) if largest is None else min(int(res.memory_bytes), largest)
            ref = self._remote.options(num_cpus=res.cpus, memory=memory, max_retries=0,
                                       name=job.label).remote(job, specs)
            refs[ref] = job
        bar = tqdm(total=len(jobs), desc=f"{desc} (ray)", unit=unit, disable=not progress)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                job = refs[ref]
                try:
                    values[job.label] = ray.get(ref)
                    bar.set_postfix_str(job.label)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    errors[job.label] = error_text(cause)
                except ray.exceptions.RayError as exc:  # a worker died (e.g. out of memory)
                    errors[job.label] = error_text(exc)
                bar.update()
        bar.close()
        return values, errors

    def close(self) -> None:
        """Shut down the local Ray this engine started (a joined cluster keeps running)."""
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_engine(name: str = "local", *, workers: int | None = None, ray_address: str | None = None,
                ray_cpus: int | None = None):
    """The engine called `name` ("local" or "ray"); see the module docstring."""
    if name == "local":
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(ray_address, num_cpus=ray_cpus)
    raise UserError(f"unknown engine '{name}'; choose from {', '.join(ENGINES)}")
