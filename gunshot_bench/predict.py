"""Inference on audio files: a label for a 2 s clip, one event per shot or burst in a recording.

A file up to `CLIP_MAX_S` long is one clip: fixed to 2.0 s and classified ("Pistol - Glock 17
(0.93)" with the top alternatives). A longer recording is streamed in blocks of `BLOCK_S`
(decoded with soundfile, downmixed, resampled to 44.1 kHz with soxr's streaming resampler, so
block edges are exact) and scanned twice, with memory that does not grow with its length:

1. the frame levels are measured block by block and `gunshot_bench.onsets` finds the events:
   a single shot, or a burst of automatic fire as ONE event with its shot count and shot
   times, each with a start and an end;
2. the 2 s windows (slid by `hop_s`, 1 s: two windows, the first shot 0.1 s and 1.1 s into
   them) that hold each event's first shot are cut from a second pass and classified in
   batches of `BATCH` windows; an event's labels rank the mean of its windows' `predict_proba`.

The onset threshold (dB above the noise floor) is the run's `onset_threshold_db`, chosen on
its dataset's validation data when it was trained, or `onsets.DEFAULT_THRESHOLD_DB` for older
runs; `threshold_db` overrides it. A bad file (corrupt, empty, silent, too short) gives a
per-file error; the other files are still processed. `format_results` writes text, JSON, JSON
lines or CSV.

Without a run directory, a default two-stage model trained on the embedded SIMULATED corpus
is used (built on first use under `$GUNSHOT_BENCH_HOME`, default `~/.cache/gunshot-bench`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from gunshot_bench import __version__, audio, exported, onsets
from gunshot_bench.checkpoint import FORMAT_VERSION
from gunshot_bench.decision import rank_scores, threshold_of
from gunshot_bench.errors import UserError
from gunshot_bench.features import CLIP_SAMPLES, SAMPLE_RATE, fix_length

CLIP_MAX_S = 2.5
MIN_DURATION_S = audio.MIN_DURATION_S
SILENCE_PEAK = 1e-4  # -80 dBFS: nothing audible to classify
# Seconds decoded at a time. Each block passes through a few float64 copies (high-pass, frame
# powers): 30 s blocks cost ~80 MB at their peak, 5 s ones ~14 MB, at the same speed (measured
# by benchmarks/bench_predict_long.py); results do not depend on it (tested).
BLOCK_S = 5.0
# Windows classified together. Memory against speed (onnxruntime, default network, measured
# by benchmarks/bench_predict_long.py): a network's activations for the whole batch are held
# while it runs (some MB per window, freed after: export.OnnxNet has no arena); 32 windows
# took ~40 % less CPU per window than 8, with the arenas of that time ~400 MB more memory.
BATCH = 8
PROBE_S = 0.05
FORMATS = ("text", "json", "jsonl", "csv")
ROW_FIELDS = ("path", "ok", "error", "kind", "duration_s", "start_s", "end_s", "label",
              "probability", "alternatives", "n_shots", "shot_times_s", "peak_db", "model",
              "simulated_training")


@dataclass(frozen=True)
class Detection:
    """One classified clip, or one event (a shot or a burst) of a recording.

    `shot_times_s` and `peak_db` (the event's peak level above the noise floor) come from the
    onset detector; a clip is classified without it (`n_shots` None).
    """

    start_s: float
    end_s: float
    label: str
    probability: float
    alternatives: list = field(default_factory=list)  # [(label, probability), ...]
    n_shots: int | None = 1
    shot_times_s: list = field(default_factory=list)
    peak_db: float | None = None


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file: detections, or an error saying why not."""

    path: str
    ok: bool
    error: str | None = None
    kind: str | None = None  # "clip" or "recording"
    duration_s: float | None = None
    detections: list = field(default_factory=list)
    model: str | None = None
    simulated_training: bool = False
    threshold_db: float | None = None  # the onset threshold a recording was scanned with

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        """Human-readable lines for this file."""
        if not self.ok:
            return f"{self.path}: error: {self.error}"
        if self.kind == "clip":
            d = self.detections[0]
            alts = ", ".join(f"{lab} ({p:.2f})" for lab, p in d.alternatives)
            return f"{self.path}: {d.label} ({d.probability:.2f})" + (f"; alternatives: {alts}" if alts else "")
        lines = [f"{self.path}: {len(self.detections)} shot event(s) in {self.duration_s:.1f} s"]
        for d in self.detections:
            burst = f"  [{d.n_shots} shots]" if d.n_shots > 1 else ""
            lines.append(f"  {d.start_s:8.2f}-{d.end_s:.2f} s  {d.label} ({d.probability:.2f}){burst}")
        return "\n".join(lines)

    def rows(self) -> list[dict]:
        """Flat rows (`ROW_FIELDS`), one per detection; a file without any gives one row."""
        base = {"path": self.path, "ok": self.ok, "error": self.error, "kind": self.kind,
                "duration_s": self.duration_s, "model": self.model,
                "simulated_training": self.simulated_training}
        rows = [{**base, **asdict(d)} for d in self.detections] or [base]
        return [{k: row.get(k) for k in ROW_FIELDS} for row in rows]


def format_results(results: list[FileResult], fmt: str = "text") -> str:
    """`results` as text (`FileResult.format`), a JSON list of files, or rows (`FileResult.rows`)
    as JSON lines or CSV (lists joined with ";", an alternative as "label (p)")."""
    if fmt not in FORMATS:
        raise UserError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "text":
        return "\n".join(r.format() for r in results)
    if fmt == "json":
        return json.dumps([r.to_dict() for r in results], indent=2)
    rows = [row for r in results for row in r.rows()]
    if fmt == "jsonl":
        return "\n".join(json.dumps(row) for row in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        row = dict(row)
        row["alternatives"] = "; ".join(f"{lab} ({p:.4f})" for lab, p in row["alternatives"] or [])
        row["shot_times_s"] = ";".join(f"{t:.4f}" for t in row["shot_times_s"] or [])
        writer.writerow(row)
    return out.getvalue().rstrip("\n")


def event_windows(onset_s: float, duration_s: float, hop_s: float = 1.0,
                  lead_s: float = 0.1) -> list[float]:
    """Start times of the 2 s windows (slid by `hop_s`) that hold the onset after `lead_s`."""
    latest = max(duration_s - CLIP_SAMPLES / SAMPLE_RATE, 0.0)
    starts = {round(min(max(onset_s - lead_s - k * hop_s, 0.0), latest), 4)
              for k in range(int((2.0 - 2 * lead_s) / hop_s) + 1)}
    return sorted(starts)


# ---- files ------------------------------------------------------------------------------
def read_mono(path: Path) -> np.ndarray:
    """Decode, downmix and resample to 44.1 kHz; AudioError for unusable audio."""
    decoded = audio.decode(path)
    x = audio.to_mono(decoded.samples)
    audio.check_finite_and_audible(x)
    if decoded.duration_s < MIN_DURATION_S:
        raise audio.AudioError(f"too short: {decoded.duration_s:.2f} s, need at least {MIN_DURATION_S} s")
    peak = float(np.abs(x).max())
    if peak < SILENCE_PEAK:
        raise audio.AudioError(f"silent: peak {20 * np.log10(peak):.0f} dBFS")
    return audio.resample(x, decoded.sample_rate, SAMPLE_RATE)


def probe(path: Path) -> float:
    """Duration in seconds, after `audio.decode` has read the first `PROBE_S` (so a truncated or
    undecodable file fails here with the decoder's own reason)."""
    audio.decode(path, 0.0, PROBE_S)
    info = sf.info(str(path))
    return info.frames / info.samplerate


def stream_mono(path: Path, block_s: float = BLOCK_S) -> Iterator[np.ndarray]:
    """Blocks of the recording as 44.1 kHz mono float32; the same samples for any `block_s`.

    Raises:
        AudioError: NaN/Inf samples, a decoding error part-way, or a silent recording (peak
            below -80 dBFS; raised after the last block).
    """
    peak = 0.0
    try:
        with sf.SoundFile(str(path)) as f:
            stream = soxr.ResampleStream(f.samplerate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            for block in f.blocks(blocksize=max(int(block_s * f.samplerate), 1), dtype="float32",
                                  always_2d=True):
                x = audio.to_mono(block)
                if not np.isfinite(x).all():
                    raise audio.AudioError(f"contains NaN or infinite sample values (near "
                                           f"{f.tell() / f.samplerate:.1f} s)")
                peak = max(peak, float(np.abs(x).max(initial=0.0)))
                yield stream.resample_chunk(x)
            yield stream.resample_chunk(np.zeros(0, np.float32), last=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise audio.AudioError(f"not decodable as audio ({str(exc).strip() or type(exc).__name__})") from exc
    if peak == 0.0:
        raise audio.AudioError("silent: every sample is zero")
    if peak < SILENCE_PEAK:
        raise audio.AudioError(f"silent: peak {20 * np.log10(peak):.0f} dBFS")


def scan_events(path: Path, threshold_db: float, block_s: float = BLOCK_S) -> list[onsets.Event]:
    """Pass 1: the onset detector's events of a recording streamed in blocks."""
    meter = onsets.LevelMeter()
    for block in stream_mono(path, block_s):
        meter.push(block)
    return onsets.detect_events(meter.levels_db(), threshold_db)


def iter_windows(path: Path, starts: list[int], block_s: float = BLOCK_S) -> Iterator[tuple[int, np.ndarray]]:
    """Pass 2: `(i, window)` for the 2 s windows starting at samples `starts` (sorted), in order;
    only the last 2 s and the current block are held."""
    i, offset, held = 0, 0, np.zeros(0, np.float32)
    for block in stream_mono(path, block_s):
        held = np.concatenate([held, block])
        while i < len(starts) and starts[i] + CLIP_SAMPLES <= offset + len(held):
            yield i, held[starts[i] - offset:][:CLIP_SAMPLES].copy()  # not a view pinning `held`
            i += 1
        keep = min(len(held), CLIP_SAMPLES)
        offset += len(held) - keep
        held = held[len(held) - keep:]
    for j in range(i, len(starts)):  # windows reaching past the end (resampling rounding)
        yield j, fix_length(held[max(starts[j] - offset, 0):])


def _ranked(loaded, proba: np.ndarray, top_k: int) -> list[tuple[str, float]]:
    """Top-k (display label, probability) of one probability row over `loaded.model.classes_`."""
    names = loaded.task.display_names
    # a detection run decides at its own threshold (chosen on validation data, see decision.py)
    order = rank_scores(proba[None], loaded.model.classes_, threshold_of(loaded.config))[0]
    return [(names[int(loaded.model.classes_[j])], float(proba[j])) for j in np.argsort(-order)[:top_k]]


def classify_recording(path: Path, loaded, events: list[onsets.Event], duration_s: float,
                       top_k: int = 3, hop_s: float = 1.0, block_s: float = BLOCK_S,
                       batch_size: int = BATCH) -> list[Detection]:
    """Each event's label from the mean `predict_proba` of the windows holding its first shot.

    Windows go to the model in batches of `batch_size` in time order, so the block size never
    changes which windows share a batch.
    """
    if not events:
        return []
    owners = [(int(round(s * SAMPLE_RATE)), e) for e, ev in enumerate(events)
              for s in event_windows(ev.start_s, duration_s, hop_s)]
    owners.sort()
    sums = np.zeros((len(events), len(loaded.model.classes_)))
    counts = np.zeros(len(events))
    batch: list[tuple[int, np.ndarray]] = []

    def classify_batch():
        proba = loaded.model.predict_proba(np.stack([w for _, w in batch]))
        for (e, _), p in zip(batch, proba):
            sums[e] += p
            counts[e] += 1
        batch.clear()

    for i, window in iter_windows(path, [s for s, _ in owners], block_s):
        batch.append((owners[i][1], window))
        if len(batch) == batch_size:
            classify_batch()
    if batch:
        classify_batch()
    out = []
    for ev, total, n in zip(events, sums, counts):
        ranked = _ranked(loaded, total / max(n, 1), top_k)
        out.append(Detection(ev.start_s, ev.end_s, ranked[0][0], ranked[0][1], ranked[1:],
                             ev.n_shots, list(ev.shot_times_s), ev.peak_db))
    return out


ENGINES = ("auto", "torch", "onnx")


def load_for_inference(run_dir, engine: str = "auto"):
    """The run in `run_dir`, with its networks on onnxruntime when the run has an ONNX export.

    `engine`: "torch" (`train.load_run`, eager torch), "onnx" (requires `RUN_DIR/onnx` from
    `gunshot-bench export` and onnxruntime) or "auto" (onnx when both are there: it is faster on
    CPU, see docs/performance.md; torch otherwise). An export of a built-in network model is run
    by `exported.load_exported`, which imports neither torch nor scikit-learn (~250 MB less
    resident memory); another model's export is attached to the model `load_run` loads
    (`export.attach_onnx`). Outputs agree within float rounding (tested).
    """
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    onnx_dir = Path(run_dir) / exported.ONNX_DIR
    if engine == "onnx" or (engine == "auto" and (onnx_dir / exported.MANIFEST).is_file()
                            and exported.runtime_available()):
        if exported.supports(run_dir):
            return exported.load_exported(run_dir)
        # imported here: torch and the model classes are what the lean path avoids
        from gunshot_bench.export import attach_onnx
        from gunshot_bench.train import load_run

        loaded = load_run(run_dir)
        attach_onnx(loaded.model, onnx_dir, Path(run_dir) / "model")
        return loaded
    from gunshot_bench.train import load_run

    return load_run(run_dir)


def run_threshold_db(config: dict) -> float:
    """The run's onset threshold (chosen on its validation data), or the documented default
    for runs trained before it was stored."""
    return float(config.get("onset_threshold_db", onsets.DEFAULT_THRESHOLD_DB))


def predict_files(paths, run_dir=None, top_k: int = 3, hop_s: float = 1.0,
                  threshold_db: float | None = None, progress: bool = False,
                  engine: str = "auto", block_s: float = BLOCK_S,
                  batch_size: int = BATCH) -> list[FileResult]:
    """Classify each file; a bad file gives a `FileResult` with `ok=False` and the reason.

    `threshold_db` (dB above the noise floor) overrides the run's onset threshold
    (`run_threshold_db`); `engine` picks the network runtime (see `load_for_inference`);
    `block_s` is how much of a recording is decoded at a time (results do not depend on it);
    `batch_size` windows are classified at a time (memory against speed, see `BATCH`).
    """
    if top_k < 1:
        raise UserError(f"top_k must be at least 1, got {top_k}")
    if threshold_db is not None and not 0 < threshold_db <= 60:
        raise UserError(f"the onset threshold must be in (0, 60] dB above the noise floor, got {threshold_db}")
    simulated = run_dir is None
    if run_dir is None:
        run_dir = ensure_default_model(progress=progress)
    loaded = load_for_inference(run_dir, engine)
    threshold = run_threshold_db(loaded.config) if threshold_db is None else float(threshold_db)
    results = []
    for path in map(Path, paths):
        common = {"model": str(run_dir), "simulated_training": simulated}
        try:
            duration = probe(path)
            if duration <= CLIP_MAX_S:
                x = read_mono(path)
                duration = len(x) / SAMPLE_RATE
                proba = loaded.model.predict_proba(
                    fix_length(audio.pad_to_length(x, CLIP_SAMPLES, SAMPLE_RATE))[None])[0]
                ranked = _ranked(loaded, proba, top_k)
                results.append(FileResult(str(path), True, kind="clip", duration_s=duration, detections=[
                    Detection(0.0, duration, ranked[0][0], ranked[0][1], ranked[1:], None)], **common))
                continue
            events = scan_events(path, threshold, block_s)
            dets = classify_recording(path, loaded, events, duration, top_k, hop_s, block_s, batch_size)
        except (audio.AudioError, OSError) as exc:
            results.append(FileResult(str(path), False, error=str(exc), simulated_training=simulated,
                                      model=str(run_dir)))
            continue
        results.append(FileResult(str(path), True, kind="recording", duration_s=duration,
                                  detections=dets, threshold_db=threshold, **common))
    return results


# ---- the default model ------------------------------------------------------------------
def default_home() -> Path:
    """`$GUNSHOT_BENCH_HOME`, or `~/.cache/gunshot-bench`."""
    return Path(os.environ.get("GUNSHOT_BENCH_HOME", "~/.cache/gunshot-bench")).expanduser()


def default_run_dir() -> Path:
    """Keyed by package and checkpoint format: an older cached default is never loaded."""
    return default_home() / f"default-model-{__version__}-format{FORMAT_VERSION}"


def ensure_default_model(progress: bool = True, preset: str = "small", seed: int = 0,
                         overrides: dict | None = None) -> Path:
    """The default run directory, created on first use: simulate the `preset` corpus, build the
    dataset and train the two-stage model with its `small` profile (a few minutes, once).

    `overrides` are laid over the profile (tests use a tiny preset and one epoch).
    """
    run = default_run_dir()
    if (run / "config.json").is_file():
        return run
    from gunshot_bench.dataset.build import BuildConfig, build_dataset
    from gunshot_bench.sim import synthesize_corpus
    from gunshot_bench.train import load_baseline, train_run

    work = default_home() / f"default-work-{__version__}-format{FORMAT_VERSION}"
    corpus, data, stage = work / "corpus", work / "dataset", work / "run"
    if progress:
        print(f"training the default model on simulated audio into {run} (once; a few minutes)")
    synthesize_corpus(preset, corpus, seed, progress=progress)  # reuses a complete corpus
    if not (data / "manifest.json").is_file():
        build_dataset(BuildConfig(sources=(("sim", str(corpus)),), out_dir=str(data), seed=seed),
                      progress=progress)
    baseline = load_baseline("audioresnet_two_stage", profile="small")
    shutil.rmtree(stage, ignore_errors=True)
    train_run(data, baseline["model"], "two_stage", seed, stage,
              {**baseline["overrides"], **(overrides or {})}, progress=progress)
    run.parent.mkdir(parents=True, exist_ok=True)
    stage.rename(run)  # atomic: an interrupted first use never leaves a half-written default
    return run
