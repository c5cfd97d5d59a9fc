"""Inference on audio files: a label for a 2 s clip, a line per shot for a long recording.

A file up to `CLIP_MAX_S` long is one clip: fixed to 2.0 s and classified ("Pistol - Glock 17
(0.93)" with the top alternatives). A longer recording is scanned the way a person would: an
onset detector on the waveform proposes shots, onsets closer than `merge_gap_s` are merged into
one event (a burst), and each event is classified from the 2 s windows that contain its onset
(windows slid by `hop_s`; their probabilities averaged). A bad file (corrupt, empty, silent,
too short) gives a per-file error; the other files are still processed.

Without a run directory, a default two-stage model trained on the embedded SIMULATED corpus
is used (built on first use under `$GUNSHOT_BENCH_HOME`, default `~/.cache/gunshot-bench`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import librosa
import numpy as np

from gunshot_bench import __version__, audio
from gunshot_bench.checkpoint import FORMAT_VERSION
from gunshot_bench.features import CLIP_SAMPLES, SAMPLE_RATE, fix_length

CLIP_MAX_S = 2.5
MIN_DURATION_S = audio.MIN_DURATION_S
SILENCE_PEAK = 1e-4  # -80 dBFS: nothing audible to classify
_ONSET_HOP = 512


@dataclass(frozen=True)
class Detection:
    """One classified clip or detected shot event."""

    start_s: float
    end_s: float
    label: str
    probability: float
    alternatives: list = field(default_factory=list)  # [(label, probability), ...]
    n_onsets: int = 1


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
            burst = f"  [{d.n_onsets} shots]" if d.n_onsets > 1 else ""
            lines.append(f"  {d.start_s:8.2f} s  {d.label} ({d.probability:.2f}){burst}")
        return "\n".join(lines)


# ---- detection on the waveform (pure) ---------------------------------------------------
def detect_shots(x: np.ndarray, sample_rate: int = SAMPLE_RATE, threshold_db: float = 15.0,
                 merge_gap_s: float = 0.25, block_s: float = 60.0) -> list[tuple[float, float, int]]:
    """Shot events `(start_s, end_s, n_onsets)` in a mono recording.

    librosa's onset detector proposes onsets; an onset is kept when the frame energy just
    after it stands `threshold_db` above the local noise floor (the 20th percentile frame RMS
    of its `block_s` block), which rejects onsets in background texture. Onsets closer than
    `merge_gap_s` form one event (automatic fire). Blocks (with 1 s of overlap) keep memory
    flat on hour-long recordings.
    """
    block, lead = int(block_s * sample_rate), sample_rate
    times: list[float] = []
    for start in range(0, len(x), block):
        lo = max(start - lead, 0)
        found = _onset_times(x[lo:start + block], sample_rate, threshold_db) + lo / sample_rate
        times += [t for t in found if start / sample_rate <= t < (start + block) / sample_rate]
    events: list[list[float]] = []
    for t in times:
        if events and t - events[-1][1] < merge_gap_s:
            events[-1][1] = t
            events[-1][2] += 1
        else:
            events.append([t, t, 1])
    return [(float(a), float(b), int(n)) for a, b, n in events]


def _onset_times(x: np.ndarray, sample_rate: int, threshold_db: float) -> np.ndarray:
    if len(x) < 2048:
        return np.zeros(0)
    onsets = librosa.onset.onset_detect(y=x, sr=sample_rate, hop_length=_ONSET_HOP, units="frames")
    rms_db = librosa.amplitude_to_db(
        librosa.feature.rms(y=x, frame_length=2048, hop_length=_ONSET_HOP)[0], ref=1.0, amin=1e-6)
    floor_db = np.percentile(rms_db, 20)
    kept = [f for f in onsets if rms_db[f:f + 5].max(initial=-120.0) >= floor_db + threshold_db]
    return librosa.frames_to_time(np.asarray(kept, dtype=int), sr=sample_rate, hop_length=_ONSET_HOP)


def event_windows(onset_s: float, duration_s: float, hop_s: float = 0.5,
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


def _ranked(loaded, X: np.ndarray, top_k: int) -> list[list[tuple[str, float]]]:
    """Top-k (display label, probability) per row of mean probabilities over `X`'s windows."""
    if hasattr(loaded.model, "describe") and len(X) == 1:
        return loaded.model.describe(X, top_k=top_k)
    proba = loaded.model.predict_proba(X).mean(0, keepdims=True)
    names = loaded.task.display_names
    return [[(names[int(loaded.model.classes_[j])], float(p[j])) for j in np.argsort(-p)[:top_k]]
            for p in proba]


ENGINES = ("auto", "torch", "onnx")


def load_for_inference(run_dir, engine: str = "auto"):
    """`train.load_run`, with the networks on onnxruntime when the run has an ONNX export.

    `engine`: "torch" (eager torch), "onnx" (requires `RUN_DIR/onnx` from `gunshot-bench
    export` and onnxruntime) or "auto" (onnx when both are there: it is faster on CPU, see
    docs/performance.md; torch otherwise). Outputs agree within float rounding (tested).
    """
    from gunshot_bench.export import ONNX_DIR, attach_onnx, onnx_available
    from gunshot_bench.train import load_run

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    loaded = load_run(run_dir)
    onnx_dir = Path(run_dir) / ONNX_DIR
    if engine == "onnx" or (engine == "auto" and (onnx_dir / "manifest.json").is_file()
                            and onnx_available()):
        attach_onnx(loaded.model, onnx_dir, Path(run_dir) / "model")
    return loaded


def predict_files(paths, run_dir=None, top_k: int = 3, hop_s: float = 0.5,
                  threshold_db: float = 15.0, progress: bool = False,
                  engine: str = "auto") -> list[FileResult]:
    """Classify each file; a bad file gives a `FileResult` with `ok=False` and the reason.

    `engine` picks the network runtime (see `load_for_inference`).
    """
    simulated = run_dir is None
    if run_dir is None:
        run_dir = ensure_default_model(progress=progress)
    loaded = load_for_inference(run_dir, engine)
    results = []
    for path in map(Path, paths):
        try:
            x = read_mono(path)
        except (audio.AudioError, OSError) as exc:
            results.append(FileResult(str(path), False, error=str(exc), model=str(run_dir)))
            continue
        duration = len(x) / SAMPLE_RATE
        if duration <= CLIP_MAX_S:
            ranked = _ranked(loaded, fix_length(audio.pad_to_length(x, CLIP_SAMPLES, SAMPLE_RATE))[None], top_k)[0]
            dets = [Detection(0.0, duration, ranked[0][0], ranked[0][1], ranked[1:])]
            kind = "clip"
        else:
            dets, kind = [], "recording"
            for start_s, end_s, n in detect_shots(x, SAMPLE_RATE, threshold_db):
                starts = event_windows(start_s, duration, hop_s)
                X = np.stack([fix_length(x[int(s * SAMPLE_RATE):][:CLIP_SAMPLES]) for s in starts])
                ranked = _ranked(loaded, X, top_k)[0]
                dets.append(Detection(start_s, end_s, ranked[0][0], ranked[0][1], ranked[1:], n))
        results.append(FileResult(str(path), True, kind=kind, duration_s=duration, detections=dets,
                                  model=str(run_dir), simulated_training=simulated))
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
