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
from gunshot_bench.tasks import get_task
from gunshot_bench.train import train_run

# A training holds its task's training and validation clips as float32 waveforms, plus the
# model's features and the augmented copies of an epoch. Measured (the worker's resident
# memory, read with ps while it trained; docs/scaling.md): a cnn on paper's detection config
# (8,230 training and validation clips of 2 s at 44.1 kHz: 2.7 GiB of waveforms) held 9.1 GiB,
# i.e. ~3x the waveforms plus the interpreter, torch and the model.
WAVEFORM_MULTIPLE = 3.0
BASE_BYTES = 1 * GIB
FALLBACK_BYTES = 4 * GIB  # a dataset without a readable manifest


def training_memory_bytes(data_dir: str | Path, task: str) -> int:
    """What a training of `task` on the dataset in `data_dir` needs in memory (bytes), from the
    dataset's manifest: its training and validation rows of the task's config, at its clip
    length and sample rate. Both protocols split the same rows, so one figure serves both."""
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
        rows = manifest["rows"][get_task(task).config]
        params = manifest["parameters"]
        clip_bytes = 4 * float(params["segment_s"]) * int(params["sample_rate"])
        n_clips = int(rows.get("train", 0)) + int(rows.get("validation", 0))
    except (OSError, ValueError, KeyError, TypeError):
        return FALLBACK_BYTES
    return int(BASE_BYTES + WAVEFORM_MULTIPLE * n_clips * clip_bytes)


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
        # the run's own thread count (TrainConfig.threads); memory grows with the dataset: the
        # local engine starts a training only while the declared memory of those running fits
        # in the memory available, and Ray schedules by it
        threads = int({**self.entry["overrides"], **(self.overrides or {})}.get("threads", 1))
        return Resources(cpus=threads, memory_bytes=training_memory_bytes(self.data_dir, self.task))

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
