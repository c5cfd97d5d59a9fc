"""Scoring trained runs: seed runs, the scorer, model blocks, results, and `is_valid_result`.

Every score goes through `gunshot_bench.evaluate` and `gunshot_bench.metrics`, so the
leaderboard, the robustness curves and study B compare models with the same code. Scoring
jobs run in this process (local engine) or as Ray tasks; each keeps the decoded test splits
of its dataset in a per-process cache (`data_cache`), so the jobs of one process share one
decode, as the single scoring loop did before jobs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gunshot_bench.evaluate import DataCache, TestSet, predict_clips, score_predictions
from gunshot_bench.evaluation.training import is_complete
from gunshot_bench.metrics import BootstrapSettings, SeedPrediction
from gunshot_bench.repro import deterministic
from gunshot_bench.results import build_result, read_result
from gunshot_bench.tasks import Task, get_task
from gunshot_bench.train import load_run, train_run

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------- results


def is_valid_result(path: Path | str, overwrite: bool = False) -> bool:
    """Whether a valid result is at `path` and is to be kept (not with `overwrite`).

    A file that does not read back as a result is logged and scored again.
    """
    path = Path(path)
    if overwrite or not path.is_file():
        return False
    try:
        read_result(path)
        return True
    except ValueError as exc:
        log.warning("rescoring: %s", exc)
        return False


@dataclass(frozen=True)
class Common:
    """What every result of one run records: the dataset, its origin, the code, the bootstrap."""

    dataset: dict
    data_origin: str
    provenance: dict
    bootstrap: BootstrapSettings


def leaderboard_result(kind: str, task: Task, protocol: str, evaluation: dict, common: Common, **kwargs) -> dict:
    """A `kind` ("leaderboard" or "reference") result of `task` in the results schema."""
    return build_result(kind=kind, task=task.name, eval_config=task.config,
                        dataset={**common.dataset, "config": task.config}, label_names=task.label_names,
                        evaluation=evaluation, bootstrap=common.bootstrap, protocol=protocol,
                        data_origin=common.data_origin, provenance=common.provenance, **kwargs)


# ---------------------------------------------------------------------------- seed runs


@dataclass(frozen=True)
class SeedRun:
    """One trained seed: the loaded run plus what the result file records about it."""

    seed: int
    run: object  # train.LoadedRun
    train_time_s: float | None
    epochs: int | None
    history: dict | None
    params: int | None
    flops_per_clip: int | None


def _history(run_dir: Path) -> tuple[dict | None, int | None]:
    """history.json ({stage: [{epoch, train_loss, ...}]}) flattened to {"stage/metric": [..]}."""
    path = run_dir / "history.json"
    if not path.is_file():
        return None, None
    raw = json.loads(path.read_text()) or {}
    flat, epochs = {}, None
    for stage, rows in raw.items():
        if not isinstance(rows, list) or not rows:
            continue
        epochs = max(epochs or 0, len(rows))
        for key in rows[0]:
            if key != "epoch":
                flat[f"{stage}/{key}"] = [r.get(key) for r in rows]
    return (flat or None), epochs


def ensure_run(data_dir, entry: dict, task: str, seed: int, run_dir: Path, *, fingerprint: str,
               overrides: dict | None = None, init_from: Path | None = None, overwrite: bool = False,
               progress: bool = True, protocol: str = "grouped") -> SeedRun:
    """Load the run in `run_dir` if it is complete and was trained on this dataset; else train it."""
    run_dir = Path(run_dir)
    if overwrite or not is_complete(run_dir, fingerprint):
        params = {**entry["overrides"], **(overrides or {})}
        train_run(data_dir, entry["model"], task, seed, run_dir, overrides=params, init_from=init_from,
                  progress=progress, protocol=protocol)
    run = load_run(run_dir)
    cx = run.model.complexity() if hasattr(run.model, "complexity") else {}
    history, epochs = _history(run_dir)
    return SeedRun(seed, run, run.config.get("wall_time_s"), epochs, history, cx.get("params"),
                   cx.get("flops_per_clip"))


def model_block(entry: dict, runs: list[SeedRun], profile: str | None, init_from: str | None = None) -> dict:
    """The result's `model` block: the model, the entry, its settings and its FLOPs per clip."""
    block = {"name": entry["model"], "entry": entry["name"],
             "config": {"overrides": entry["overrides"], "profile": profile, "description": entry["description"]},
             "flops_per_clip": runs[0].flops_per_clip}
    if init_from:
        block["init_from"] = init_from
    return block


# ------------------------------------------------------------------------------- scoring


@functools.lru_cache(maxsize=2)
def _cache(data_dir: str, fingerprint: str) -> DataCache:
    return DataCache(data_dir)


def data_cache(data_dir: Path | str) -> DataCache:
    """This process's cache of `data_dir`'s decoded splits (a rebuilt dataset gets a new one)."""
    manifest = Path(data_dir) / "manifest.json"
    fingerprint = json.loads(manifest.read_text()).get("fingerprint", "") if manifest.is_file() else ""
    return _cache(str(Path(data_dir).resolve()), fingerprint)


def clear_data_caches() -> None:
    """Free this process's decoded splits (a protocol calls it when its run is over)."""
    _cache.cache_clear()


def score_runs(runs: list[SeedRun], test: TestSet, task_name: str, *, fingerprint: str,
               bootstrap: BootstrapSettings):
    """Predict `test` with every seed and score them together; returns (evaluation, seed_info)."""
    task = get_task(task_name)
    preds, info = [], []
    for sr in runs:
        # the run's own thread count: another count rounds the network's sums differently
        with deterministic(sr.seed, int(sr.run.config.get("threads") or 1)):
            y_pred, score, ms = predict_clips(sr.run.model, test.X, task)
        preds.append(SeedPrediction(sr.seed, y_pred, score))
        info.append({"train_time_s": sr.train_time_s, "inference_time_per_clip_ms": ms, "epochs": sr.epochs,
                     "history": sr.history})
    evaluation = score_predictions(task, test.y, preds, rng_keys=(fingerprint, test.name), bootstrap=bootstrap)
    return evaluation, info


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run a block with torch's intra-op thread count set to `threads` (None: unchanged).

    The robustness predictions run with the thread count of the process that scores them;
    a scoring job carries the count of the process that made it, so that a Ray worker sums
    the networks' floats in the same order as the local engine.
    """
    if threads is None:
        yield
        return
    import torch  # the models need it anyway; imported here so that the core loads without it

    old = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


class Scorer:
    """Predicts each seed once per test set and scores subsets of the rows (robustness levels)."""

    def __init__(self, cache: DataCache, fingerprint: str, bootstrap: BootstrapSettings):
        self.cache, self.fingerprint, self.bootstrap = cache, fingerprint, bootstrap

    def predict(self, runs: list[SeedRun], task: Task, test: TestSet):
        out = []
        for sr in runs:
            y_pred, score, ms = predict_clips(sr.run.model, test.X, task)
            out.append((sr.seed, y_pred, score, ms))
        return out

    def score(self, task: Task, test: TestSet, preds, mask: np.ndarray, name: str) -> dict:
        seeds = [SeedPrediction(s, y[mask], None if sc is None else sc[mask]) for s, y, sc, _ in preds]
        return score_predictions(task, test.y[mask], seeds, rng_keys=(self.fingerprint, name),
                                 bootstrap=self.bootstrap)
