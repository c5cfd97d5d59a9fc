"""Train and score every leaderboard entry of `baselines/`: one result JSON per (entry, task, config).

Resuming: a training run is complete when its `config.json` exists (train_run writes it
last) and a result when its JSON exists (written atomically), so a rerun after an
interruption trains only the missing seeds and writes only the missing results. `overwrite`
redoes both. The paths are `evaluation.entries.RunLayout`'s.

Every entry is trained and scored under both split protocols (`grouped`, the leak-free
default, and `segment`, study A's random split of segments; see `dataset.split`), and every
task gets the reference rows of `gunshot_bench.references` under both protocols too.
Trainings and scorings are jobs: the engine (local process pool by default, or Ray) runs them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from gunshot_bench.dataset.split import PROTOCOLS, check_protocol
from gunshot_bench.evaluate import score_predictions
from gunshot_bench.evaluation.engine import LocalEngine
from gunshot_bench.evaluation.entries import (
    RunLayout,
    data_origin,
    dataset_provenance,
    resolve_entries,
    seed_list,
)
from gunshot_bench.evaluation.jobs import GIB, Failure, Resources
from gunshot_bench.evaluation.scoring import (
    Common,
    clear_data_caches,
    data_cache,
    ensure_run,
    is_valid_result,
    leaderboard_result,
    model_block,
    score_runs,
)
from gunshot_bench.evaluation.training import TrainJob, is_complete, run_label
from gunshot_bench.leaderboard.render import Rendered, render_leaderboard
from gunshot_bench.leaderboard.tables import table_task
from gunshot_bench.metrics import BootstrapSettings, SeedPrediction
from gunshot_bench.references import REFERENCES, reference_predictions
from gunshot_bench.repro import code_provenance
from gunshot_bench.results import result_filename, write_result
from gunshot_bench.tasks import get_task

log = logging.getLogger(__name__)


@dataclass
class LeaderboardRun:
    """What `run_leaderboard` did."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    rendered: Rendered | None = None
    wall_time_s: float = 0.0


@dataclass(frozen=True)
class ScoreJob:
    """Score one entry's trained seeds on one task and protocol, and write its result file."""

    data_dir: str
    entry: dict
    task: str
    protocol: str
    seeds: tuple[int, ...]
    layout: RunLayout
    common: Common
    profile: str | None = None
    overrides: dict | None = None

    @property
    def label(self) -> str:
        return run_label(self.entry["name"], self.task, self.protocol)

    @property
    def resources(self) -> Resources:
        return Resources(cpus=1, memory_bytes=4 * GIB)  # the decoded test split and one model at a time

    def run(self) -> Path:
        task = get_task(self.task)
        fingerprint = self.common.dataset["fingerprint"]
        t0 = time.perf_counter()
        runs = [ensure_run(self.data_dir, self.entry, self.task, s,
                           self.layout.run_dir(self.entry["name"], self.task, self.protocol, s),
                           fingerprint=fingerprint, overrides=self.overrides, progress=False, protocol=self.protocol)
                for s in self.seeds]
        test = data_cache(self.data_dir).test_set(task, protocol=self.protocol)
        evaluation, info = score_runs(runs, test, self.task, fingerprint=fingerprint, bootstrap=self.common.bootstrap)
        train_wall = sum(r.train_time_s or 0.0 for r in runs)
        result = leaderboard_result("leaderboard", task, self.protocol, evaluation, self.common,
                                    model=model_block(self.entry, runs, self.profile), seed_info=info,
                                    params=runs[0].params, wall_time_s=train_wall + time.perf_counter() - t0)
        path = self.layout.result_path(self.entry["name"], self.task, task.config, protocol=self.protocol)
        return write_result(path, result)


@dataclass(frozen=True)
class ReferencesJob:
    """Score every reference row of one task and protocol (see `score_references`)."""

    data_dir: str
    task: str
    protocol: str
    seeds: tuple[int, ...]
    layout: RunLayout
    common: Common
    overwrite: bool = False

    @property
    def label(self) -> str:
        return f"references/{self.task}/{self.protocol}"

    @property
    def resources(self) -> Resources:
        return Resources(cpus=1, memory_bytes=4 * GIB)

    def run(self) -> LeaderboardRun:
        outcome = LeaderboardRun()
        score_references(data_cache(self.data_dir), self.task, self.protocol, list(self.seeds),
                         self.layout.results_dir, self.common, self.overwrite, outcome)
        return outcome


def run_leaderboard(
    data_dir: Path | str,
    models="all",
    seeds=3,
    out_dir: Path | str = "leaderboard",
    overwrite: bool = False,
    *,
    profile: str | None = None,
    preset: str | None = None,
    runs_dir: Path | str | None = None,
    train_overrides: dict | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: bool = True,
    render: bool = True,
    workers: int | None = None,
    protocols=PROTOCOLS,
    segment_seeds=None,
    tasks=None,
    references: bool = True,
    engine=None,
) -> LeaderboardRun:
    """Train and score each entry of `baselines/` on each of its tasks, then render the leaderboard.

    Args:
        data_dir: a dataset built with `gunshot-bench build` (the `detection` config is needed
            for detection entries).
        models: "all", or entry names (list or comma-separated).
        seeds: number of seeds (0..N-1) or a list of seeds.
        out_dir: the leaderboard folder (results/, runs/, LEADERBOARD.md, index.html, plots/).
        overwrite: retrain and rescore even where runs and results exist.
        profile: baseline profile laid over each entry's settings (e.g. "small").
        preset: the simulator preset the data came from (found from the manifest when omitted).
        runs_dir: where checkpoints go (default `out_dir/runs/<dataset key>`).
        train_overrides: extra settings for every entry (e.g. {"max_epochs": 1} in tests).
        workers: training processes of the default local engine (default: 2 on a machine
            with 2 or more cores).
        protocols: split protocols to run ("grouped", "segment"; both by default).
        segment_seeds: seeds of the `segment` protocol (default: `seeds`); fewer keeps a
            time budget (the `small` main job uses 1).
        tasks: only these tasks of each entry (default: all of them).
        references: also score the reference rows (`gunshot_bench.references`) on every task.
        engine: what runs the trainings and scorings (`evaluation.engine`); default a
            `LocalEngine(workers)`. The caller owns an engine it passes (and closes it).
    """
    start = time.perf_counter()
    engine = engine if engine is not None else LocalEngine(workers)
    entries = resolve_entries(models, profile)
    seeds = seed_list(seeds)
    protocols = [check_protocol(p) for p in protocols]
    seeds_of = {p: seeds if p == "grouped" or segment_seeds is None else seed_list(segment_seeds) for p in protocols}
    prov = dataset_provenance(data_dir, preset)
    layout = RunLayout.for_dataset(out_dir, prov, runs_dir)
    common = Common(prov, data_origin(data_dir), code_provenance(), bootstrap)  # code: once per run
    outcome = LeaderboardRun()
    todo = []
    for entry in entries:
        for task_name in entry["tasks"]:
            if tasks is not None and task_name not in tasks:
                continue
            for protocol in protocols:
                path = layout.result_path(entry["name"], task_name, get_task(task_name).config, protocol=protocol)
                if is_valid_result(path, overwrite):
                    outcome.skipped.append(path)
                    continue
                todo.append((entry, task_name, protocol))

    train_jobs = [TrainJob(str(data_dir), entry, task_name, seed,
                           str(layout.run_dir(entry["name"], task_name, protocol, seed)), train_overrides, protocol)
                  for entry, task_name, protocol in todo for seed in seeds_of[protocol]
                  if overwrite or not is_complete(layout.run_dir(entry["name"], task_name, protocol, seed),
                                                  prov["fingerprint"])]
    _, train_errors = engine.run(train_jobs, desc="training", unit="run", progress=progress, pool=True)
    for label, error in train_errors.items():
        log.error("training %s failed: %s", label, error)
    score_jobs = []
    for entry, task_name, protocol in todo:
        failed = [(s, train_errors[run_label(entry["name"], task_name, protocol, s)]) for s in seeds_of[protocol]
                  if run_label(entry["name"], task_name, protocol, s) in train_errors]
        if failed:
            seed, error = failed[0]
            outcome.failed.append(Failure(run_label(entry["name"], task_name, protocol), f"seed{seed}: {error}",
                                          entry["name"], task_name, protocol, seed))
            continue
        score_jobs.append(ScoreJob(str(data_dir), entry, task_name, protocol, tuple(seeds_of[protocol]), layout,
                                   common, profile, train_overrides))
    written, score_errors = engine.run(score_jobs, desc="scoring", unit="result", progress=progress)
    for job in score_jobs:  # in the order of the entries, as one loop wrote them
        if job.label in written:
            outcome.written.append(written[job.label])
        else:  # one entry that cannot be scored here must not stop the others
            outcome.failed.append(Failure(job.label, score_errors[job.label], job.entry["name"], job.task,
                                          job.protocol))
            log.error("%s", outcome.failed[-1])
    if references:
        ref_tasks = sorted({table_task(t) for e in entries for t in e["tasks"] if tasks is None or t in tasks})
        ref_jobs = [ReferencesJob(str(data_dir), task_name, protocol, tuple(seeds_of[protocol]), layout, common,
                                  overwrite)
                    for task_name in ref_tasks for protocol in protocols]
        done, ref_errors = engine.run(ref_jobs, desc="references", unit="task", progress=False)
        for job in ref_jobs:
            if job.label in done:
                outcome.written += done[job.label].written
                outcome.skipped += done[job.label].skipped
                outcome.failed += done[job.label].failed
            else:
                outcome.failed.append(Failure(job.label, ref_errors[job.label], task=job.task, protocol=job.protocol))
    clear_data_caches()
    if render:
        outcome.rendered = render_leaderboard(layout.results_root, layout.out_dir)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome


def score_references(cache, task_name: str, protocol: str, seeds: list[int], results_dir: Path,
                     common: Common, overwrite: bool, outcome: LeaderboardRun) -> None:
    """Score every registered reference on one task and protocol, on the entries' test set and
    with the entries' bootstrap resamples (so that differences from it are paired)."""
    task = get_task(task_name)
    try:
        train_frame = cache.protocol_frame(task.config, "train", protocol)  # labels only: nothing decoded
        mask, y_train = task.select(train_frame)
        train_df = train_frame[mask].reset_index(drop=True)
        test = cache.test_set(task, protocol=protocol)
    except (FileNotFoundError, ValueError) as exc:
        outcome.failed.append(Failure(f"references/{task_name}/{protocol}", str(exc), task=task_name,
                                      protocol=protocol))
        return
    for name, ref in REFERENCES.items():
        if not ref.applies(task_name, train_df):
            continue
        path = Path(results_dir) / result_filename(name, task_name, task.config, kind="reference", protocol=protocol)
        if is_valid_result(path, overwrite):
            outcome.skipped.append(path)
            continue
        t0 = time.perf_counter()
        preds = []
        for seed in seeds:
            y_pred, proba = reference_predictions(name, train_df, y_train, test.frame, task.n_classes, seed)
            preds.append(SeedPrediction(seed, y_pred, proba[:, 1] if task_name == "detection" else None))
        evaluation = score_predictions(task, test.y, preds, rng_keys=(common.dataset["fingerprint"], test.name),
                                       bootstrap=common.bootstrap)
        model = {"name": name, "entry": name, "config": {"reference": True, "description": ref.description}}
        result = leaderboard_result("reference", task, protocol, evaluation, common, model=model, params=None,
                                    wall_time_s=time.perf_counter() - t0)
        outcome.written.append(write_result(path, result))


__all__ = ["LeaderboardRun", "ReferencesJob", "ScoreJob", "run_leaderboard", "score_references"]
