"""Noise and level robustness: scores as curves over SNR and loudness, and study B's comparison.

Every leaderboard run is scored again on the test rows of the variant configs, level by level:

| task | condition | rows | by |
|---|---|---|---|
| category / model / two_stage | crowd noise | `crowd_noise` test | `snr_db` |
| category / model / two_stage | gain, loudness | `energy` test (gunshots) | `gain_db`, `target_lufs` |
| detection | crowd noise | `detection` test, mixed rows (gunshots and negatives) | `snr_db` |
| detection | gain, loudness | `energy` test (gunshots and background) | `gain_db`, `target_lufs` |

Each curve comes with its area: the trapezoidal area under score-vs-level divided by the
level range, i.e. the mean score over the range (1.0 = perfect at every level). The clean test
score is kept beside each curve as its reference. Detection curves use balanced accuracy of
the model's own decisions: with a threshold fixed in training, a change of level that shifts
the scores shows up as missed shots or false alarms, which a curve metric with its threshold
re-chosen per level (recall at a fixed false-alarm rate) would hide.

Study B (`leaderboard.study_b`): the `cnn` entry trained from scratch on the clean detection
rows (Model 1), fine-tuned from it on crowd-noise mixtures (Model 2) and on level-changed clips
(Model 3), all three scored on the clean, crowd-noise and energy test sets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from gunshot_bench.evaluate import DataCache, TestSet, predict_clips, score_predictions
from gunshot_bench.leaderboard.render import Rendered, render_leaderboard
from gunshot_bench.leaderboard.run import (
    SeedRun,
    dataset_provenance,
    ensure_run,
    model_block,
    resolve_entries,
    seed_list,
)
from gunshot_bench.leaderboard.tables import dataset_key
from gunshot_bench.leaderboard.training import TrainJob, is_complete, train_all
from gunshot_bench.metrics import BootstrapSettings, SeedPrediction
from gunshot_bench.rng import stable_uniform
from gunshot_bench.results import build_result, read_result, result_filename, write_result
from gunshot_bench.tasks import Task, get_task

log = logging.getLogger(__name__)
ROBUSTNESS_METRIC = {"detection": "balanced_accuracy"}  # others: accuracy
STUDY_B_BASE = "cnn"


@dataclass(frozen=True)
class Condition:
    """Rows of one variant config, scored level by level along one column."""

    config: str
    by: str
    row_filter: tuple[str, str] | None = None  # (column, value) the rows must have

    def rows(self, test: TestSet) -> np.ndarray:
        frame = test.frame
        mask = frame[self.by].notna().to_numpy().copy()
        if self.row_filter is not None:
            column, value = self.row_filter
            mask &= (frame[column] == value).to_numpy()
        return mask


def conditions_for(task: Task) -> list[Condition]:
    if task.name == "detection":
        return [Condition("detection", "snr_db", ("detection_kind", "mixed")),
                Condition("energy", "gain_db", ("energy_mode", "gain")),
                Condition("energy", "target_lufs", ("energy_mode", "loudness"))]
    return [Condition("crowd_noise", "snr_db"),
            Condition("energy", "gain_db", ("energy_mode", "gain")),
            Condition("energy", "target_lufs", ("energy_mode", "loudness"))]


def _subsample(test: TestSet, conds: list[Condition], max_clips: int) -> np.ndarray:
    """Rows to keep: at most `max_clips` per level of each condition. The clips are chosen by a
    stable hash of their source segment, so every level (and every model) gets the same source
    clips where it can: the curve then compares like with like."""
    frame = test.frame
    source = frame["source_clip_id"] if "source_clip_id" in frame else frame["clip_id"]
    rank = np.array([stable_uniform("robustness", s) for s in source])
    keep = np.zeros(len(frame), bool)
    for cond in conds:
        rows = cond.rows(test)
        values = frame[cond.by].to_numpy()
        for v in set(values[rows].tolist()):
            idx = np.flatnonzero(rows & (values == v))
            keep[idx[np.argsort(rank[idx], kind="stable")[:max_clips]]] = True
    return keep


def curve_area(levels, values) -> float | None:
    """Trapezoidal area under values-vs-levels over the level range (the mean over the range)."""
    pts = sorted((float(x), float(y)) for x, y in zip(levels, values) if y is not None and np.isfinite(y))
    if len(pts) < 2:
        return pts[0][1] if pts else None
    x, y = np.array(pts).T
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0) / (x[-1] - x[0]))


@dataclass
class RobustnessRun:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    rendered: Rendered | None = None
    wall_time_s: float = 0.0


class _Scorer:
    """Predicts each seed once per test config and scores subsets of the rows."""

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


def _level_value(v):
    f = float(v)
    return int(f) if f.is_integer() else round(f, 3)


def _breakdown(scorer: _Scorer, task: Task, test: TestSet, preds, cond: Condition, metric: str) -> tuple[dict, dict]:
    """(breakdown over the condition's levels, evaluation pooled over all its rows)."""
    rows = cond.rows(test)
    if not rows.any():
        raise ValueError(f"no {cond.config} test rows with {cond.by} for task {task.name}")
    values = test.frame[cond.by].to_numpy()
    levels = []
    for v in sorted(set(values[rows].tolist())):
        mask = rows & (values == v)
        ev = scorer.score(task, test, preds, mask, f"{cond.config}:{cond.by}={v}")
        levels.append({"value": _level_value(v), "n_test": ev["n_test"], "aggregate": ev["aggregate"],
                       "per_seed_scores": [s["scores"] for s in ev["per_seed"]]})
    metrics = set.intersection(*(set(lv["aggregate"]) for lv in levels))
    area = {m: curve_area([lv["value"] for lv in levels], [lv["aggregate"][m]["mean"] for lv in levels])
            for m in sorted(metrics)}
    pooled = scorer.score(task, test, preds, rows, f"{cond.config}:{cond.by}")
    return {"by": cond.by, "levels": levels, "area": area}, pooled


def _write(path: Path, *, task: Task, eval_config: str, prov: dict, train_config: str, model: dict,
           evaluation: dict, runs: list[SeedRun], bootstrap, breakdown: dict, metric: str, start: float) -> Path:
    info = [{"train_time_s": sr.train_time_s, "epochs": sr.epochs} for sr in runs]
    result = build_result(
        kind="robustness", task=task.name, eval_config=eval_config, dataset={**prov, "config": train_config},
        model=model, label_names=task.label_names, evaluation=evaluation, bootstrap=bootstrap, seed_info=info,
        params=runs[0].params, wall_time_s=time.perf_counter() - start, main_metric=metric, breakdown=breakdown)
    return write_result(path, result)


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
) -> RobustnessRun:
    """Score every entry's runs on the variant test rows level by level, and run study B.

    Runs are shared with `run_leaderboard` (same `out_dir/runs` layout): missing ones are
    trained first. Results go to `out_dir/results/<dataset>/robustness__*.json`, in the
    leaderboard schema with a `breakdown` of the levels; existing results are kept unless
    `overwrite`. `max_clips_per_level` caps the test clips scored at each level (the same
    source clips at every level), which keeps the small preset within its time budget.
    `skip` holds (entry, task) pairs not to train again (e.g. those that just failed to train).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    entries = resolve_entries(models, profile)
    seeds = seed_list(seeds)
    prov = dataset_provenance(data_dir, preset)
    key = dataset_key({"dataset": {**prov, "config": "clean"}})
    results_dir = out_dir / "results" / key
    runs_root = Path(runs_dir) if runs_dir is not None else out_dir / "runs" / key
    cache = DataCache(data_dir)
    scorer = _Scorer(cache, prov["fingerprint"], bootstrap)
    outcome = RobustnessRun()
    jobs = [(e, t) for e in entries for t in e["tasks"] if (e["name"], t) not in skip]
    train_all([TrainJob(str(data_dir), e, t, s, str(runs_root / e["name"] / t / f"seed{s}"), train_overrides)
               for e, t in jobs for s in seeds
               if not is_complete(runs_root / e["name"] / t / f"seed{s}", prov["fingerprint"])],
              workers, progress)
    for entry, task_name in tqdm(jobs, desc="robustness", unit="model", disable=not progress):
        task = get_task(task_name)
        metric = ROBUSTNESS_METRIC.get(task_name, "accuracy")
        conds = conditions_for(task)
        paths = {c: results_dir / result_filename(entry["name"], task_name, f"{c.config}-{c.by}", "robustness")
                 for c in conds}
        todo = [c for c in conds if overwrite or not _valid(paths[c])]
        outcome.skipped += [paths[c] for c in conds if c not in todo]
        if not todo:
            continue
        try:
            runs = [ensure_run(data_dir, entry, task_name, s, runs_root / entry["name"] / task_name / f"seed{s}",
                               fingerprint=prov["fingerprint"], overrides=train_overrides, progress=False)
                    for s in seeds]
        except Exception as exc:  # an entry that cannot train on this data must not stop the others
            outcome.failed.append(f"{entry['name']}/{task_name}: {type(exc).__name__}: {exc}")
            log.error("robustness: %s", outcome.failed[-1])
            continue
        for config in sorted({c.config for c in todo}):
            t0 = time.perf_counter()
            try:
                test = cache.test_set(task, config)
            except (FileNotFoundError, ValueError) as exc:  # e.g. a tiny corpus without noise in test
                outcome.failed += [f"{entry['name']}/{task_name} by {c.by} on {config}: {exc}"
                                   for c in todo if c.config == config]
                log.warning("robustness: %s", exc)
                continue
            if max_clips_per_level:
                test = test.subset(_subsample(test, [c for c in todo if c.config == config], max_clips_per_level),
                                   config)
            preds = scorer.predict(runs, task, test)
            for cond in (c for c in todo if c.config == config):
                if not cond.rows(test).any():
                    outcome.failed.append(f"{entry['name']}/{task_name}: no {config} test rows with {cond.by}")
                    continue
                breakdown, pooled = _breakdown(scorer, task, test, preds, cond, metric)
                outcome.written.append(_write(
                    paths[cond], task=task, eval_config=config, prov=prov, train_config=task.config,
                    model=model_block(entry, runs, profile), evaluation=pooled, runs=runs, bootstrap=bootstrap,
                    breakdown=breakdown, metric=metric, start=t0))
    base = next((e for e in entries if e["name"] == STUDY_B_BASE and "detection" in e["tasks"]), None)
    if study_b and base is not None:
        from gunshot_bench.leaderboard.study_b import run_study_b

        try:
            written, skipped = run_study_b(data_dir, base, seeds, results_dir, runs_root / "study_b", prov, scorer,
                                           profile=profile, train_overrides=train_overrides, overwrite=overwrite,
                                           progress=progress, max_clips_per_level=max_clips_per_level)
            outcome.written += written
            outcome.skipped += skipped
        except Exception as exc:
            outcome.failed.append(f"study B: {type(exc).__name__}: {exc}")
            log.error("robustness: %s", outcome.failed[-1])
    if render:
        outcome.rendered = render_leaderboard(out_dir / "results", out_dir)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome


def _valid(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        read_result(path)
        return True
    except ValueError as exc:
        log.warning("rescoring: %s", exc)
        return False


__all__ = ["run_robustness", "curve_area", "conditions_for", "Condition", "RobustnessRun"]
