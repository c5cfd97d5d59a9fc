"""Study B's protocol: one detector from scratch on clean data, two fine-tuned from it.

- Model 1: the `cnn` entry trained from scratch on the clean rows of `detection`
  (gunshots and non-gunshots as recorded).
- Model 2: Model 1 fine-tuned on crowd-noise mixtures: the mixed rows of `detection` (every
  gunshot and every negative mixed with its split's noise, so noise alone does not give the
  label away).
- Model 3: Model 1 fine-tuned on level-changed clips: from `energy`, one gain or loudness
  level per clean segment, drawn per segment (study B changed each clip's energy once).

All three are scored on the same three test sets: clean, crowd-noise (mixed) and energy rows
of the test split, with the leaderboard's metrics and bootstrap. Training uses the model
interface (`fit`, `warm_start_from`, `save`) on rows this module selects, since `train_run`
trains on a task's whole config; the hyperparameters are the `cnn` entry's. Trainings and
scorings are jobs (`StudyBJob`, `StudyBScoreJob`) that an engine runs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gunshot_bench.dataset.shards import iter_batches
from gunshot_bench.evaluate import TestSet, load_rows
from gunshot_bench.evaluation.conditions import conditions_for, subsample_levels
from gunshot_bench.evaluation.entries import RunLayout
from gunshot_bench.evaluation.jobs import GIB, Failure, Resources
from gunshot_bench.evaluation.scoring import Scorer, SeedRun, data_cache, is_valid_result, model_block, torch_threads
from gunshot_bench.metrics import BootstrapSettings
from gunshot_bench.models import get, load_model, model_class
from gunshot_bench.results import build_result, write_result
from gunshot_bench.rng import derive_rng
from gunshot_bench.tasks import get_task
from gunshot_bench.train import LoadedRun, split_overrides

#: (entry name, training config, rows, init from Model 1)
MODELS = (
    ("study_b_model1", "detection", "clean", False),
    ("study_b_model2", "detection", "mixed", True),
    ("study_b_model3", "energy", "one_level", True),
)
#: (test-set name, config, rows)
TEST_SETS = (("clean", "detection", "clean"), ("crowd_noise", "detection", "mixed"), ("energy", "energy", "all"))
MARKER = "study_b.json"
log = logging.getLogger(__name__)


def select_rows(data_dir, config: str, split: str, rows: str, seed: int):
    """(X, y) of the detection task on `config`/`split`, restricted to `rows`: "clean" or
    "mixed" (`detection_kind`), "one_level" (one energy row per source segment, drawn from
    (seed, segment id), so a segment's pick does not change when others are added) or "all"."""
    chosen = _one_level_ids(data_dir, config, split, seed) if rows == "one_level" else None

    def keep(frame):
        if rows in ("clean", "mixed"):
            return (frame["detection_kind"] == rows).to_numpy()
        if chosen is not None:
            return frame["clip_id"].isin(chosen).to_numpy()
        return np.ones(len(frame), bool)

    X, frame = load_rows(data_dir, config, split, keep)
    if len(frame) == 0:
        return X, np.zeros(0, np.int64)
    mask, y = dataclasses.replace(get_task("detection"), config=config).select(frame)
    return X[mask], y


def _one_level_ids(data_dir, config: str, split: str, seed: int) -> set[str]:
    """Clip ids of one row per source segment, the row drawn from (seed, source segment id)."""
    meta = pd.concat([b.to_pandas() for b in iter_batches(Path(data_dir), config, split,
                                                          columns=["clip_id", "source_clip_id"])])
    chosen = set()
    for source, ids in meta.groupby("source_clip_id", sort=True)["clip_id"]:
        ids = sorted(ids)
        chosen.add(ids[int(derive_rng(seed, "study_b", "energy", source).integers(len(ids)))])
    return chosen


def _new_model(entry: dict, seed: int, overrides: dict | None):
    config, params = split_overrides(entry["model"], {**entry["overrides"], **(overrides or {})})
    accepted = set(model_class(entry["model"])().get_params())
    kwargs = {k: v for k, v in dataclasses.asdict(config).items() if k in accepted}
    kwargs.update(params, random_state=int(seed))
    if "progress" in accepted:
        kwargs["progress"] = False
    return get(entry["model"], **kwargs)


def is_trained(run_dir: Path, fingerprint: str) -> bool:
    marker = Path(run_dir) / MARKER
    return marker.is_file() and json.loads(marker.read_text()).get("fingerprint") == fingerprint


def train_seed(data_dir, entry: dict, name: str, config: str, rows: str, seed: int, run_dir: Path,
               base_dir: Path | None, fingerprint: str, overrides: dict | None) -> None:
    """Train one study B model for one seed into `run_dir` (fine-tuned from `base_dir` if given)."""
    run_dir = Path(run_dir)
    start = time.perf_counter()
    X, y = select_rows(data_dir, config, "train", rows, seed)
    if len(np.unique(y)) < 2:
        raise ValueError(f"study B {name}: the {config} training split has no {rows} rows of both classes")
    try:
        X_val, y_val = select_rows(data_dir, config, "validation", rows, seed)
    except (FileNotFoundError, ValueError):
        X_val, y_val = X[:0], y[:0]
    model = _new_model(entry, seed, overrides)
    if base_dir is not None:
        model.warm_start_from(load_model(Path(base_dir) / "model"))
    model.fit(X, y, X_val if len(y_val) else None, y_val if len(y_val) else None)
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "model")
    history = getattr(model, "history_", None) or []
    info = {"model": entry["model"], "study_b": name, "seed": seed, "trained_on": f"{config}:{rows}",
            "init_from": None if base_dir is None else str(base_dir), "fingerprint": fingerprint,
            "n_train": int(len(y)), "n_validation": int(len(y_val)),
            "wall_time_s": time.perf_counter() - start, "history": {name: history}}
    (run_dir / MARKER).write_text(json.dumps(info, indent=1, default=float))  # written last: marks completion


def load_seed(run_dir: Path, seed: int) -> SeedRun:
    """A trained study B model as the leaderboard's SeedRun."""
    task = get_task("detection")
    info = json.loads((Path(run_dir) / MARKER).read_text())
    model = load_model(Path(run_dir) / "model")
    run = LoadedRun(model, task, task.label_names, info, None, "", Path(run_dir))
    flat = {f"{stage}/{k}": [r.get(k) for r in rows_]
            for stage, rows_ in info["history"].items() if rows_ for k in rows_[0] if k != "epoch"}
    cx = model.complexity() if hasattr(model, "complexity") else {}
    return SeedRun(seed, run, info["wall_time_s"], len(next(iter(info["history"].values()), [])) or None,
                   flat or None, cx.get("params"), cx.get("flops_per_clip"))


@dataclass(frozen=True)
class StudyBJob:
    """Train one study B model for one seed (see `train_seed`)."""

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

    @property
    def resources(self) -> Resources:
        return Resources(cpus=1, memory_bytes=4 * GIB)

    def run(self) -> str:
        train_seed(self.data_dir, self.entry, self.name, self.config, self.rows, self.seed, Path(self.run_dir),
                   None if self.base_dir is None else Path(self.base_dir), self.fingerprint, self.overrides)
        return self.run_dir


def evaluation_sets(data_dir, max_clips_per_level: int | None = None) -> dict[str, TestSet]:
    """Study B's test sets that this dataset has ({name: test set}); the energy one capped at
    `max_clips_per_level` clips per gain or loudness level."""
    task = get_task("detection")
    cache = data_cache(data_dir)
    tests = {}
    for test_name, config, rows in TEST_SETS:
        try:
            full = cache.test_set(task, config, "test")
        except (FileNotFoundError, ValueError) as exc:
            log.warning("study B: no %s test set: %s", test_name, exc)
            continue
        mask = np.ones(len(full.y), bool) if rows == "all" else (full.frame["detection_kind"] == rows).to_numpy()
        if config == "energy" and max_clips_per_level:
            mask &= subsample_levels(full, [c for c in conditions_for(task) if c.config == "energy"],
                                     max_clips_per_level)
        if mask.any():
            tests[test_name] = full.subset(mask, test_name)
        else:
            log.warning("study B: no %s test set: the %s test split has no %s rows", test_name, config, rows)
    return tests


@dataclass(frozen=True)
class StudyBScoreJob:
    """Score one study B model's seeds on the three test sets and write its result file."""

    data_dir: str
    entry: dict
    name: str
    config: str
    rows: str
    fine_tune: bool
    seeds: tuple[int, ...]
    layout: RunLayout
    prov: dict
    bootstrap: BootstrapSettings
    path: str
    profile: str | None = None
    max_clips_per_level: int | None = None
    threads: int | None = None

    @property
    def label(self) -> str:
        return f"study B {self.name}"

    @property
    def resources(self) -> Resources:
        return Resources(cpus=self.threads or 1, memory_bytes=4 * GIB)

    def run(self) -> Path:
        task = get_task("detection")
        tests = evaluation_sets(self.data_dir, self.max_clips_per_level)
        scorer = Scorer(data_cache(self.data_dir), self.prov["fingerprint"], self.bootstrap)
        t0 = time.perf_counter()
        runs = [load_seed(self.layout.study_b_dir(self.name, seed), seed) for seed in self.seeds]
        levels, evaluations = [], []
        with torch_threads(self.threads):
            for test_name, test in tests.items():
                preds = scorer.predict(runs, task, test)
                ev = scorer.score(task, test, preds, np.ones(len(test.y), bool), f"study_b:{test_name}")
                levels.append({"value": test_name, "n_test": ev["n_test"], "aggregate": ev["aggregate"],
                               "per_seed_scores": [s["scores"] for s in ev["per_seed"]]})
                evaluations.append(ev)
        model = model_block({**self.entry, "name": self.name}, runs, self.profile,
                            init_from="study_b_model1" if self.fine_tune else None)
        model["config"]["trained_on"] = f"{self.config}:{self.rows}"
        info = [{"train_time_s": sr.train_time_s, "epochs": sr.epochs, "history": sr.history} for sr in runs]
        result = build_result(
            kind="robustness", task="detection", eval_config="test_sets",
            dataset={**self.prov, "config": self.config}, model=model, label_names=task.label_names,
            evaluation=evaluations[0], bootstrap=self.bootstrap, seed_info=info, params=runs[0].params,
            wall_time_s=time.perf_counter() - t0, main_metric="accuracy",
            breakdown={"by": "test_set", "levels": levels, "area": {}},
            notes=f"study B: trained on {self.config} ({self.rows} rows)"
                  + (", fine-tuned from study_b_model1" if self.fine_tune else ", from scratch")
                  + "; main score on the clean test set")
        return write_result(self.path, result)


def run_study_b(data_dir, entry: dict, seeds: list[int], layout: RunLayout, prov: dict, engine, *,
                bootstrap: BootstrapSettings = BootstrapSettings(), profile=None, train_overrides=None,
                overwrite=False, progress=True, max_clips_per_level: int | None = None,
                threads: int | None = None) -> tuple[list[Path], list[Path], list[Failure]]:
    """Train study B's three models for every seed and score them on the three test sets
    (the energy test set capped at `max_clips_per_level` clips per gain or loudness level).

    Returns:
        (result files written, result files kept from an earlier run, what failed).
    """
    paths = {name: layout.result_path(name, "detection", "test_sets", "robustness") for name, *_ in MODELS}
    if all(is_valid_result(p, overwrite) for p in paths.values()):
        return [], list(paths.values()), []
    if "clean" not in evaluation_sets(data_dir, max_clips_per_level):
        raise ValueError("study B needs the clean rows of the detection test split")

    # Model 1 for every seed first (two at a time), then its fine-tuned Models 2 and 3.
    for phase in (False, True):
        jobs = [StudyBJob(str(data_dir), entry, name, config, rows, seed, str(layout.study_b_dir(name, seed)),
                          str(layout.study_b_dir(MODELS[0][0], seed)) if fine_tune else None, prov["fingerprint"],
                          train_overrides)
                for name, config, rows, fine_tune in MODELS if fine_tune == phase for seed in seeds
                if overwrite or not is_trained(layout.study_b_dir(name, seed), prov["fingerprint"])]
        _, errors = engine.run(jobs, desc="training", unit="run", progress=progress, pool=True)
        if errors:
            for label, error in errors.items():
                log.error("training %s failed: %s", label, error)
            return [], [], [Failure("study B", f"{label}: {error}", entry=entry["name"], task="detection")
                            for label, error in errors.items()]
    jobs = [StudyBScoreJob(str(data_dir), entry, name, config, rows, fine_tune, tuple(seeds), layout, prov, bootstrap,
                           str(paths[name]), profile, max_clips_per_level, threads)
            for name, config, rows, fine_tune in MODELS]
    written, errors = engine.run(jobs, desc="study B scoring", unit="model", progress=progress)
    failures = [Failure("study B", f"{job.name}: {errors[job.label]}", entry=entry["name"], task="detection")
                for job in jobs if job.label in errors]
    return [written[job.label] for job in jobs if job.label in written], [], failures
