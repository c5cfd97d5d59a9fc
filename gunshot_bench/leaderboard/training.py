"""Training the leaderboard's runs, two at a time on two cores.

Small convolutional networks and MFCC extraction use a second core poorly inside one process,
so the missing runs are trained in worker processes; the results do not depend on the number
of workers or on this process's thread count (every run is seeded on its own and `train_run`
fixes its thread count from the run's config). Scoring then happens in the
main process from the saved runs.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from gunshot_bench import plugins

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainJob:
    """One (entry, task, seed) run to train into `run_dir`."""

    data_dir: str
    entry: dict
    task: str
    seed: int
    run_dir: str
    overrides: dict | None = None
    protocol: str = "grouped"

    @property
    def label(self) -> str:
        return f"{self.entry['name']}/{self.task}{_suffix(self.protocol)}/seed{self.seed}"


def _suffix(protocol: str) -> str:
    return "" if protocol == "grouped" else f"/{protocol}"


@dataclass(frozen=True)
class StudyBJob:
    """One study B model for one seed (see `leaderboard.study_b.train_seed`)."""

    data_dir: str
    entry: dict
    name: str
    config: str
    rows: str
    seed: int
    run_dir: str
    base_dir: str | None
    fingerprint: str
    overrides: dict | None = None

    @property
    def label(self) -> str:
        return f"{self.name}/seed{self.seed}"


def is_complete(run_dir: Path | str, fingerprint: str) -> bool:
    """A run is complete once train_run wrote its config.json, for this dataset and this
    version of the features (a run trained on other features is retrained)."""
    from gunshot_bench.features import FEATURES_VERSION

    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return False
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return False
    return ((config.get("dataset") or {}).get("fingerprint") == fingerprint
            and (config.get("provenance") or {}).get("features_version") == FEATURES_VERSION)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _spawnable() -> bool:
    """Spawned workers re-import `__main__`: fine for a script, a console entry point or an
    interactive session, impossible for a program read from standard input."""
    import sys

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or Path(main_file).is_file()


def _train(job: TrainJob | StudyBJob) -> str:
    from gunshot_bench.train import train_run

    if isinstance(job, StudyBJob):
        from gunshot_bench.leaderboard.study_b import train_seed

        train_seed(job.data_dir, job.entry, job.name, job.config, job.rows, job.seed, Path(job.run_dir),
                   None if job.base_dir is None else Path(job.base_dir), job.fingerprint, job.overrides)
        return job.label

    train_run(job.data_dir, job.entry["model"], job.task, job.seed, job.run_dir,
              overrides={**job.entry["overrides"], **(job.overrides or {})}, progress=False,
              protocol=job.protocol)
    return job.label


def train_all(jobs: list[TrainJob | StudyBJob], workers: int | None = None, progress: bool = True) -> dict[str, str]:
    """Train every job; returns {job label: error} for the runs that failed (others are on disk)."""
    workers = default_workers() if workers is None else workers
    failures: dict[str, str] = {}
    bar = tqdm(total=len(jobs), desc="training", unit="run", disable=not progress or not jobs)
    if workers > 1 and not _spawnable():
        log.info("training in this process: worker processes cannot re-import this program's __main__")
        workers = 1
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            bar.set_postfix_str(job.label)
            try:
                _train(job)
            except Exception as exc:  # noqa: BLE001 - one run that cannot train must not stop the rest
                failures[job.label] = f"{type(exc).__name__}: {exc}"
            bar.update()
    else:
        ctx = multiprocessing.get_context("spawn")  # no forked torch state in the workers
        # a spawned worker's registry holds only the package's models: load the user's plugins there too
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=plugins.load_plugins,
                                 initargs=(plugins.loaded_specs(),)) as pool:
            futures = {pool.submit(_train, job): job for job in jobs}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    fut.result()
                    bar.set_postfix_str(job.label)
                except Exception as exc:  # noqa: BLE001
                    failures[job.label] = f"{type(exc).__name__}: {exc}"
                bar.update()
    bar.close()
    for label, error in failures.items():
        log.error("training %s failed: %s", label, error)
    return failures
