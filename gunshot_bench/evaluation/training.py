"""Training the leaderboard's runs: one `TrainJob` per (entry, task, protocol, seed).

Small convolutional networks and MFCC extraction use a second core poorly inside one process,
so an engine trains the missing runs in workers (two processes locally, Ray tasks on a
cluster); the results do not depend on the engine, the number of workers or the caller's
thread count (every run is seeded on its own and `train_run` fixes its thread count from the
run's config). Resuming: a run is complete when its `config.json` exists (`train_run` writes it
last) for this dataset and these features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gunshot_bench.evaluation.entries import protocol_suffix
from gunshot_bench.evaluation.jobs import GIB, Resources
from gunshot_bench.features import FEATURES_VERSION
from gunshot_bench.train import train_run


def run_label(entry: str, task: str, protocol: str, seed: int | None = None) -> str:
    """"svm/model[/segment][/seed0]": how a run is named in progress bars and failures."""
    label = f"{entry}/{task}{protocol_suffix(protocol, '/')}"
    return label if seed is None else f"{label}/seed{seed}"


@dataclass(frozen=True)
class TrainJob:
    """One (entry, task, protocol, seed) run to train into `run_dir`."""

    data_dir: str
    entry: dict
    task: str
    seed: int
    run_dir: str
    overrides: dict | None = None
    protocol: str = "grouped"

    @property
    def label(self) -> str:
        return run_label(self.entry["name"], self.task, self.protocol, self.seed)

    @property
    def resources(self) -> Resources:
        # the run's own thread count (TrainConfig.threads); memory: a split of decoded clips
        # plus a small network, well under 4 GiB for every preset this package builds
        threads = int({**self.entry["overrides"], **(self.overrides or {})}.get("threads", 1))
        return Resources(cpus=threads, memory_bytes=4 * GIB)

    def run(self) -> str:
        train_run(self.data_dir, self.entry["model"], self.task, self.seed, self.run_dir,
                  overrides={**self.entry["overrides"], **(self.overrides or {})}, progress=False,
                  protocol=self.protocol)
        return self.run_dir


def is_complete(run_dir: Path | str, fingerprint: str) -> bool:
    """A run is complete once train_run wrote its config.json, for this dataset and this
    version of the features (a run trained on other features is retrained)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return False
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return False
    return ((config.get("dataset") or {}).get("fingerprint") == fingerprint
            and (config.get("provenance") or {}).get("features_version") == FEATURES_VERSION)
