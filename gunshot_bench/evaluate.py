"""Scoring trained runs: on a built dataset's test rows, or on any collection the loaders read.

Every score of the package goes through here and `gunshot_bench.metrics`, so the leaderboard,
the robustness curves and `gunshot-bench evaluate` compare models with the same code.

Example:
    >>> result = evaluate_source("runs/cnn", "folder", "my_recordings", task="detection")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from gunshot_bench import taxonomy
from gunshot_bench.errors import UserError
from gunshot_bench.metrics import BootstrapSettings, DetectionSettings, SeedPrediction, evaluate_seeds
from gunshot_bench.rng import derive_rng
from gunshot_bench.tasks import Task, get_task

log = logging.getLogger(__name__)
MODEL_LEVEL = ("model", "two_stage")
_PREDICT_CHUNK = 256


@dataclass(frozen=True)
class TestSet:
    """Clips to score a task on: waveforms, true labels and the rows' other columns."""

    name: str
    X: np.ndarray
    y: np.ndarray
    frame: object  # pandas.DataFrame

    def subset(self, mask: np.ndarray, name: str) -> "TestSet":
        mask = np.asarray(mask, dtype=bool)
        return TestSet(name, self.X[mask], self.y[mask], self.frame[mask].reset_index(drop=True))


def load_rows(data_dir: Path | str, config: str, split: str, keep=None):
    """Like `dataset.read.load_arrays`, but decodes only the rows `keep(frame) -> bool mask`
    selects, so that picking a few rows of a large variant config does not decode all of it."""
    import pandas as pd

    from gunshot_bench.audio import decode_wav
    from gunshot_bench.dataset.read import SEGMENT_SAMPLES
    from gunshot_bench.dataset.shards import iter_batches, shard_paths

    if not shard_paths(Path(data_dir), config, split):
        raise FileNotFoundError(f"{data_dir}: no shards for config '{config}', split '{split}'")
    waves, frames = [], []
    for batch in iter_batches(Path(data_dir), config, split):
        table = batch.to_pandas()
        audio = table.pop("audio")
        mask = np.ones(len(table), bool) if keep is None else np.asarray(keep(table), dtype=bool)
        waves += [decode_wav(item["bytes"])[0] for item in audio[mask]]
        frames.append(table[mask])
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    X = np.stack(waves).astype(np.float32, copy=False) if waves else np.zeros((0, SEGMENT_SAMPLES), np.float32)
    return X, frame


class DataCache:
    """Decoded dataset splits kept in memory, so that many models share one decode."""

    def __init__(self, data_dir: Path | str):
        self.data_dir = Path(data_dir)
        self._arrays: dict[tuple[str, str], tuple[np.ndarray, object]] = {}
        self._frames: dict[tuple[str, str], object] = {}

    def arrays(self, config: str, split: str):
        key = (config, split)
        if key not in self._arrays:
            from gunshot_bench.dataset.read import load_arrays

            self._arrays[key] = load_arrays(self.data_dir, config, split)
        return self._arrays[key]

    def protocol_arrays(self, config: str, split: str, protocol: str = "grouped"):
        """`dataset.read.load_protocol_arrays` through this cache."""
        from gunshot_bench.dataset.read import load_protocol_arrays

        return load_protocol_arrays(self.data_dir, config, split, protocol, load=lambda _d, c, s: self.arrays(c, s))

    def frame(self, config: str, split: str):
        """A split's rows without audio (`dataset.read.load_frame`), nothing decoded for it."""
        key = (config, split)
        if key in self._arrays:
            return self._arrays[key][1]
        if key not in self._frames:
            from gunshot_bench.dataset.read import load_frame

            self._frames[key] = load_frame(self.data_dir, config, split)
        return self._frames[key]

    def protocol_frame(self, config: str, split: str, protocol: str = "grouped"):
        """`dataset.read.load_protocol_frame` through this cache."""
        from gunshot_bench.dataset.read import load_protocol_frame

        return load_protocol_frame(self.data_dir, config, split, protocol, load=lambda _d, c, s: self.frame(c, s))

    def test_set(self, task: Task, config: str | None = None, split: str = "test",
                 protocol: str = "grouped") -> TestSet:
        """The task's labelled rows of `config` (default: the task's own config) in `split`
        under a split protocol (the test set of the `segment` protocol is named `<config>/segment`)."""
        config = config or task.config
        X, frame = self.protocol_arrays(config, split, protocol)
        if len(frame) == 0:
            raise UserError(f"{self.data_dir}: config '{config}' has no {split} rows")
        mask, y = dataclasses.replace(task, config=config).select(frame)
        name = config if protocol == "grouped" else f"{config}/{protocol}"
        return TestSet(name, X[mask], y, frame[mask].reset_index(drop=True))


def predict_clips(model, X: np.ndarray, task: Task) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(predicted label ids, gunshot score for detection else None, milliseconds per clip)."""
    start = time.perf_counter()
    if task.name == "detection":
        proba = np.concatenate([model.predict_proba(X[i:i + _PREDICT_CHUNK]) for i in range(0, len(X), _PREDICT_CHUNK)])
        classes = np.asarray(model.classes_)
        score = proba[:, classes == 1].sum(axis=1) if (classes == 1).any() else np.zeros(len(X))
        y_pred = classes[proba.argmax(axis=1)]
    else:
        y_pred = np.concatenate([model.predict(X[i:i + _PREDICT_CHUNK]) for i in range(0, len(X), _PREDICT_CHUNK)])
        score = None
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    return np.asarray(y_pred, dtype=np.int64), score, elapsed_ms / max(len(X), 1)


def score_predictions(
    task: Task,
    y_true: np.ndarray,
    predictions: list[SeedPrediction],
    *,
    rng_keys: tuple = (),
    bootstrap: BootstrapSettings = BootstrapSettings(),
    detection: DetectionSettings = DetectionSettings(),
) -> dict:
    """`metrics.evaluate_seeds` with the task's labels; model-level tasks get the per-stage scores.

    The bootstrap generator depends on `bootstrap.seed` and `rng_keys` only (pass the dataset
    fingerprint and test-set name), so every model scored on one test set sees the same
    resamples.
    """
    m2c = None
    if task.label_column == "model":
        from gunshot_bench.models.two_stage import MODEL_CATEGORY

        m2c = MODEL_CATEGORY
    return evaluate_seeds(
        task.name, y_true, predictions, task.label_names, model_to_category=m2c,
        category_names=taxonomy.CATEGORIES, detection=detection, bootstrap=bootstrap,
        # the flat and two-stage model tasks share one test set and one table: same resamples
        rng=derive_rng(bootstrap.seed, "bootstrap", "model" if task.name in MODEL_LEVEL else task.name, *rng_keys),
    )


def as_task(name: str | Task) -> Task:
    return name if isinstance(name, Task) else get_task(name)


def map_predictions(run_task: Task, want: Task, y_pred: np.ndarray) -> np.ndarray:
    """Predictions of `run_task` read as `want` (a model-level run scores categories too)."""
    if run_task.name == want.name or (run_task.label_column == want.label_column == "model"):
        return y_pred
    if run_task.label_column == "model" and want.label_column == "category":
        return run_task.categories_of(y_pred)
    raise UserError(f"a model trained on task '{run_task.name}' cannot be scored on task '{want.name}' "
                     f"(it predicts {run_task.label_column}, not {want.label_column})")


# ---------------------------------------------------------------------- any collection


def collect_source(kind: str, path: Path | str, task: Task, progress: bool = True) -> tuple[TestSet, list[str]]:
    """Scan a collection with its loader, decode and cut every file into 2 s segments at
    44.1 kHz (as a build would), and keep the segments whose label the task knows.

    Returns:
        (test set, reasons for every file or label left out, one line each).
    """
    import pandas as pd

    from gunshot_bench import audio
    from gunshot_bench.sources import SkippedFile, get_source

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"source {kind}={path}: no such folder")
    items = list(get_source(kind).scan(path))
    waves, labels, rows, skipped = [], [], [], []
    for item in tqdm(items, desc=f"reading {kind}={path.name}", unit="file", disable=not progress):
        if isinstance(item, SkippedFile):
            skipped.append(f"{item.rel_path}: {item.reason}")
            continue
        y = _label_for(task, item.label)
        if y is None:
            skipped.append(f"{item.rel_path}: label '{item.raw_label}' ({item.label.kind}) has no "
                           f"{task.label_column} for task {task.name}")
            continue
        try:
            decoded = audio.decode(item.path, item.start_s, item.end_s)
            audio.check_finite_and_audible(decoded.samples)
        except audio.AudioError as exc:
            skipped.append(f"{item.rel_path}: {exc}")
            continue
        count = audio.n_segments(decoded.samples.shape[0], decoded.sample_rate)
        if decoded.duration_s < audio.MIN_DURATION_S:
            skipped.append(f"{item.rel_path}: shorter than {audio.MIN_DURATION_S:g} s "
                           f"({decoded.duration_s:.3f} s)")
            continue
        mono = audio.resample(audio.to_mono(decoded.samples), decoded.sample_rate)
        if count == 0:  # padded as a build pads it (one segment, its own noise floor after the end)
            mono, count = audio.pad_to_length(mono, int(round(audio.SEGMENT_DURATION_S * audio.TARGET_SAMPLE_RATE))), 1
        for i, seg in enumerate(audio.cut_segments(mono, count)):
            waves.append(seg)
            labels.append(y)
            rows.append({"clip_id": f"{kind}/{item.rel_path}#{i}", "label_raw": item.raw_label,
                         "segment_sha256": audio.pcm_sha256(seg)})
    if not waves:
        raise UserError(f"source {kind}={path}: no usable clip for task {task.name} "
                         f"({len(skipped)} files left out" + (f", e.g. {skipped[0]})" if skipped else ")"))
    frame = pd.DataFrame(rows)
    return TestSet(f"{kind}={path}", np.stack(waves).astype(np.float32), np.asarray(labels, np.int64), frame), skipped


def _label_for(task: Task, label) -> int | None:
    if task.label_column == "is_gunshot":
        return None if label.is_gunshot is None else int(label.is_gunshot)
    if task.label_column == "category":
        return None if label.category is None else taxonomy.category_index(label.category)
    if task.label_column == "model":
        return None if label.model is None else taxonomy.model_index(label.model)
    return None


def evaluate_source(
    run_dir: Path | str,
    kind: str,
    path: Path | str,
    task: str | None = None,
    out: Path | str | None = None,
    *,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: bool = True,
) -> dict:
    """Score the trained run in `run_dir` on the collection `kind=path`, without building a dataset.

    Args:
        task: the task to score (default: the run's own); a model-level run can be scored
            on `category` too.
        out: write the result JSON there (same schema as the leaderboard, kind "evaluate").

    Returns:
        The result dict (also written to `out` when given).
    """
    from gunshot_bench.results import build_result, write_result
    from gunshot_bench.train import load_run

    start = time.perf_counter()
    run = load_run(run_dir)
    want = as_task(task or run.task.name)
    test, skipped = collect_source(kind, path, want, progress=progress)
    for line in skipped:
        log.info("left out: %s", line)
    y_pred, score, ms = predict_clips(run.model, test.X, run.task)
    y_pred = map_predictions(run.task, want, y_pred)
    fingerprint = hashlib.sha256("\n".join(sorted(test.frame["segment_sha256"])).encode()).hexdigest()[:16]
    evaluation = score_predictions(want, test.y, [SeedPrediction(int(run.config.get("seed", 0)), y_pred, score)],
                                   rng_keys=(fingerprint,), bootstrap=bootstrap)
    cfg = run.config
    complexity = run.model.complexity() if hasattr(run.model, "complexity") else {}
    ds = cfg.get("dataset") or {}
    result = build_result(
        kind="evaluate", task=want.name, eval_config=f"{kind}:{Path(path).name}",
        dataset={"name": f"{kind}:{Path(path).name}", "version": "unversioned", "fingerprint": fingerprint,
                 "config": run.task.config, "source": f"{kind}={path}"},
        model={"name": cfg["model"], "entry": cfg["model"], "config": {"run_dir": str(run_dir), "seed": cfg.get("seed"),
               "params": cfg.get("params"), "train": cfg.get("train"), "trained_on": ds}},
        label_names=want.label_names, evaluation=evaluation, bootstrap=bootstrap,
        seed_info=[{"inference_time_per_clip_ms": ms, "train_time_s": cfg.get("wall_time_s")}],
        params=complexity.get("params"), wall_time_s=time.perf_counter() - start,
        notes=f"{len(test.y)} segments scored; {len(skipped)} files or labels left out",
    )
    if out is not None:
        write_result(out, result)
    return result
