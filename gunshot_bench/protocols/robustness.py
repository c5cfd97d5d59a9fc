"""Noise and level robustness: scores as curves over SNR and loudness, and study B's comparison.

Every leaderboard run is scored again on the test rows of the variant configs, level by level
(the conditions and their curve areas are `evaluation.conditions`'). The clean test score is
kept beside each curve as its reference. Detection curves use balanced accuracy of the model's
own decisions: with a threshold fixed in training, a change of level that shifts the scores
shows up as missed shots or false alarms, which a curve metric with its threshold re-chosen
per level (recall at a fixed false-alarm rate) would hide.

Study B (`protocols.study_b`): the `cnn` entry trained from scratch on the clean detection
rows (Model 1), fine-tuned from it on crowd-noise mixtures (Model 2) and on level-changed clips
(Model 3), all three scored on the clean, crowd-noise and energy test sets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gunshot_bench.evaluation.conditions import Condition, breakdown, conditions_for, curve_area, subsample_levels
from gunshot_bench.evaluation.engine import LocalEngine
from gunshot_bench.evaluation.entries import RunLayout, dataset_provenance, resolve_entries, seed_list
from gunshot_bench.evaluation.jobs import GIB, Failure, Resources, error_text
from gunshot_bench.evaluation.scoring import (
    Scorer,
    SeedRun,
    clear_data_caches,
    data_cache,
    ensure_run,
    is_valid_result,
    model_block,
    torch_threads,
)
from gunshot_bench.evaluation.training import TrainJob, is_complete
from gunshot_bench.leaderboard.render import Rendered, render_leaderboard
from gunshot_bench.metrics import BootstrapSettings
from gunshot_bench.protocols.study_b import run_study_b
from gunshot_bench.results import build_result, write_result
from gunshot_bench.tasks import Task, get_task

log = logging.getLogger(__name__)
ROBUSTNESS_METRIC = {"detection": "balanced_accuracy"}  # others: accuracy
STUDY_B_BASE = "cnn"


@dataclass
class RobustnessRun:
    """What `run_robustness` did."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    rendered: Rendered | None = None
    wall_time_s: float = 0.0


def _write(path: Path, *, task: Task, eval_config: str, prov: dict, train_config: str, model: dict,
           evaluation: dict, runs: list[SeedRun], bootstrap, breakdown: dict, metric: str, start: float) -> Path:
    info = [{"train_time_s": sr.train_time_s, "epochs": sr.epochs} for sr in runs]
    result = build_result(
        kind="robustness", task=task.name, eval_config=eval_config, dataset={**prov, "config": train_config},
        model=model, label_names=task.label_names, evaluation=evaluation, bootstrap=bootstrap, seed_info=info,
        params=runs[0].params, wall_time_s=time.perf_counter() - start, main_metric=metric, breakdown=breakdown)
    return write_result(path, result)


@dataclass(frozen=True)
class RobustnessJob:
    """Score one entry's runs on one task under the conditions still to do; write their results."""

    data_dir: str
    entry: dict
    task: str
    todo: tuple[Condition, ...]
    seeds: tuple[int, ...]
    layout: RunLayout
    prov: dict
    bootstrap: BootstrapSettings
    profile: str | None = None
    overrides: dict | None = None
    max_clips_per_level: int | None = None
    threads: int | None = None  # torch threads of the predictions: the local engine's, on any engine

    @property
    def label(self) -> str:
        return f"robustness {self.entry['name']}/{self.task}"

    @property
    def resources(self) -> Resources:
        return Resources(cpus=self.threads or 1, memory_bytes=4 * GIB)

    def path(self, cond: Condition) -> Path:
        return self.layout.result_path(self.entry["name"], self.task, f"{cond.config}-{cond.by}", "robustness")

    def run(self) -> tuple[list[Path], list[Failure]]:
        name, task = self.entry["name"], get_task(self.task)
        part = f"{name}/{self.task}"
        metric = ROBUSTNESS_METRIC.get(self.task, "accuracy")
        written, failed = [], []
        try:
            runs = [ensure_run(self.data_dir, self.entry, self.task, s,
                               self.layout.run_dir(name, self.task, "grouped", s), fingerprint=self.prov["fingerprint"],
                               overrides=self.overrides, progress=False)
                    for s in self.seeds]
        except Exception as exc:  # an entry that cannot train on this data must not stop the others
            log.error("robustness: %s: %s", part, error_text(exc))
            return written, [Failure(part, error_text(exc), name, self.task, "grouped")]
        cache = data_cache(self.data_dir)
        scorer = Scorer(cache, self.prov["fingerprint"], self.bootstrap)
        for config in sorted({c.config for c in self.todo}):
            t0 = time.perf_counter()
            conds = [c for c in self.todo if c.config == config]
            try:
                test = cache.test_set(task, config)
            except (FileNotFoundError, ValueError) as exc:  # e.g. a tiny corpus without noise in test
                failed += [Failure(f"{part} by {c.by} on {config}", str(exc), name, self.task, "grouped") for c in conds]
                log.warning("robustness: %s", exc)
                continue
            if self.max_clips_per_level:
                test = test.subset(subsample_levels(test, conds, self.max_clips_per_level), config)
            with torch_threads(self.threads):
                preds = scorer.predict(runs, task, test)
            for cond in conds:
                if not cond.rows(test).any():
                    failed.append(Failure(part, f"no {config} test rows with {cond.by}", name, self.task, "grouped"))
                    continue
                levels, pooled = breakdown(scorer, task, test, preds, cond)
                written.append(_write(
                    self.path(cond), task=task, eval_config=config, prov=self.prov, train_config=task.config,
                    model=model_block(self.entry, runs, self.profile), evaluation=pooled, runs=runs,
                    bootstrap=self.bootstrap, breakdown=levels, metric=metric, start=t0))
        return written, failed


def run_robustness(
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
    study_b: bool = True,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: bool = True,
    render: bool = True,
    workers: int | None = None,
    max_clips_per_level: int | None = None,
    skip: frozenset[tuple[str, str]] = frozenset(),
    engine=None,
) -> RobustnessRun:
    """Score every entry's runs on the variant test rows level by level, and run study B.

    Runs are shared with `run_leaderboard` (same `RunLayout`): missing ones are trained first.
    Results go to `out_dir/results/<dataset>/robustness__*.json`, in the leaderboard schema
    with a `breakdown` of the levels; existing results are kept unless `overwrite`.
    `max_clips_per_level` caps the test clips scored at each level (the same source clips at
    every level), which keeps the small preset within its time budget. `skip` holds (entry,
    task) pairs not to train again (e.g. those that just failed to train). `engine` runs the
    trainings and scorings (default a `LocalEngine(workers)`; the caller closes one it passes).
    """
    start = time.perf_counter()
    engine = engine if engine is not None else LocalEngine(workers)
    entries = resolve_entries(models, profile)
    seeds = seed_list(seeds)
    prov = dataset_provenance(data_dir, preset)
    layout = RunLayout.for_dataset(out_dir, prov, runs_dir)
    threads = torch.get_num_threads()  # the predictions' thread count, also in a Ray worker
    outcome = RobustnessRun()
    pairs = [(e, t) for e in entries for t in e["tasks"] if (e["name"], t) not in skip]
    train_jobs = [TrainJob(str(data_dir), e, t, s, str(layout.run_dir(e["name"], t, "grouped", s)), train_overrides)
                  for e, t in pairs for s in seeds
                  if not is_complete(layout.run_dir(e["name"], t, "grouped", s), prov["fingerprint"])]
    _, train_errors = engine.run(train_jobs, desc="training", unit="run", progress=progress, pool=True)
    for label, error in train_errors.items():
        log.error("training %s failed: %s", label, error)
    jobs = []
    for entry, task_name in pairs:
        paths = {c: layout.result_path(entry["name"], task_name, f"{c.config}-{c.by}", "robustness")
                 for c in conditions_for(get_task(task_name))}
        todo = tuple(c for c, p in paths.items() if not is_valid_result(p, overwrite))
        outcome.skipped += [p for c, p in paths.items() if c not in todo]
        if todo:
            jobs.append(RobustnessJob(str(data_dir), entry, task_name, todo, tuple(seeds), layout, prov, bootstrap,
                                      profile, train_overrides, max_clips_per_level, threads))
    done, errors = engine.run(jobs, desc="robustness", unit="model", progress=progress)
    for job in jobs:
        if job.label in done:
            written, failed = done[job.label]
            outcome.written += written
            outcome.failed += failed
        else:
            outcome.failed.append(Failure(f"{job.entry['name']}/{job.task}", errors[job.label], job.entry["name"],
                                          job.task, "grouped"))
            log.error("robustness: %s", outcome.failed[-1])
    base = next((e for e in entries if e["name"] == STUDY_B_BASE and "detection" in e["tasks"]), None)
    if study_b and base is not None:
        try:
            written, skipped, failed = run_study_b(
                data_dir, base, seeds, layout, prov, engine, bootstrap=bootstrap, profile=profile,
                train_overrides=train_overrides, overwrite=overwrite, progress=progress,
                max_clips_per_level=max_clips_per_level, threads=threads)
            outcome.written += written
            outcome.skipped += skipped
            outcome.failed += failed
        except (FileNotFoundError, ValueError) as exc:  # a dataset without study B's test rows
            outcome.failed.append(Failure("study B", error_text(exc), base["name"], "detection"))
            log.error("robustness: %s", outcome.failed[-1])
    clear_data_caches()
    if render:
        outcome.rendered = render_leaderboard(layout.results_root, layout.out_dir)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome


__all__ = ["run_robustness", "curve_area", "conditions_for", "Condition", "RobustnessRun"]
