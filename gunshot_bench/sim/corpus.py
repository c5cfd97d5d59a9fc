"""Writing a simulated corpus: the `folder` layout, metadata.csv and a completion marker.

Layout (lhotse-style: idempotent, the marker written last):

    OUT/<category>/<model_dir>/<recording_id>.wav     gunshots
    OUT/_background/<kind>/<recording_id>.wav         backgrounds and confusers
    OUT/metadata.csv                                  every generation parameter of every file
    OUT/.gunshot_bench_synth.json                     completion marker (preset, seed, counts)

Recordings are rendered in a process pool (one task per recording, 2 workers by default); each
draws only from `derive_rng(seed, recording_id)`, so the same preset and seed give byte-identical
files whatever the number of workers.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from gunshot_bench import __version__
from gunshot_bench.errors import UserError
from gunshot_bench.sim.presets import PRESETS, RecordingPlan, model_dir, plan
from gunshot_bench.sim.recording import render_background, render_gunshot

MARKER = ".gunshot_bench_synth.json"
PARTIAL_MARKER = ".gunshot_bench_synth.partial.json"
METADATA = "metadata.csv"
#: Bumped whenever the generator's output changes for a given preset and seed.
GENERATOR_VERSION = "2"
LICENCE = "CC0-1.0 (simulated by gunshot-bench)"
FIRST_COLUMNS = ("recording_id", "rel_path", "label", "model", "category", "kind", "n_segments",
                 "duration_s", "sample_rate", "channels", "subtype", "distance_m", "azimuth_deg",
                 "environment", "rt60_s", "n_shots", "shot_times_s", "clipping", "codec", "seed", "preset")


@dataclass(frozen=True)
class CorpusSummary:
    """What `synthesize_corpus` wrote (or found already complete)."""

    out_dir: Path
    preset: str
    seed: int
    n_recordings: int
    n_gunshot_recordings: int
    n_background_recordings: int
    n_gunshot_segments: int
    n_background_segments: int
    segments_per_model: dict = field(default_factory=dict)
    audio_duration_s: float = 0.0
    elapsed_s: float = 0.0
    reused: bool = False


def rel_path(rec: RecordingPlan) -> str:
    if rec.model is not None:
        return f"{rec.category}/{model_dir(rec.model)}/{rec.recording_id}.wav"
    return f"_background/{rec.kind}/{rec.recording_id}.wav"


def render(rec: RecordingPlan, seed: int) -> tuple[np.ndarray, dict]:
    """Samples and metadata row of one planned recording (pure: no I/O)."""
    audio, p = (render_gunshot if rec.model is not None else render_background)(rec, seed)
    row = {"recording_id": rec.recording_id, "rel_path": rel_path(rec),
           "label": rec.model if rec.model is not None else rec.kind,
           "model": rec.model or "", "category": rec.category or "", "kind": rec.kind,
           "n_segments": rec.n_segments, "duration_s": audio.shape[0] / p["sample_rate"], "seed": seed}
    for key, value in p.items():
        row[key] = round(value, 6) if isinstance(value, float) else value
    return audio, row


def _write_one(args: tuple[RecordingPlan, int, str, str]) -> dict:
    rec, seed, out_dir, preset = args
    try:
        audio, row = render(rec, seed)
    except Exception as exc:  # name the recording: worker tracebacks are hard to place
        raise RuntimeError(f"simulating {rec.recording_id} (seed {seed}) failed: {exc!r}") from exc
    path = Path(out_dir) / row["rel_path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    if row["subtype"] == "PCM_16":
        data = np.round(np.clip(audio, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    else:  # 24-bit: libsndfile keeps the top 24 bits of int32
        data = (np.round(np.clip(audio, -1.0, (2**23 - 1) / 2**23) * 2**23).astype(np.int32) << 8)
    sf.write(path, data, row["sample_rate"], subtype=row["subtype"], format="WAV")
    row["preset"] = preset
    return row


def _check_out_dir(out_dir: Path, preset: str, seed: int) -> str:
    """'fresh', 'resume' (our own partial output), or 'complete'; ValueError for other content."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: exists and is not a directory")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return "fresh"
    for name, state in ((MARKER, "complete"), (PARTIAL_MARKER, "resume")):
        marker = out_dir / name
        if marker.exists():
            try:
                info = json.loads(marker.read_text())
            except (OSError, ValueError) as exc:
                raise UserError(f"{marker}: unreadable marker ({exc}); remove {out_dir} and run again") from exc
            if (info.get("preset"), info.get("seed"), info.get("generator_version")) == (preset, seed, GENERATOR_VERSION):
                return state
            raise UserError(f"{out_dir}: holds a simulated corpus of preset '{info.get('preset')}' seed "
                             f"{info.get('seed')} (generator {info.get('generator_version')}), not '{preset}' "
                             f"seed {seed}; choose an empty folder")
    raise UserError(f"{out_dir}: the folder already holds other files; choose an empty or new folder")


def _summary(out_dir: Path, preset: str, seed: int, rows: list[dict], elapsed: float, reused: bool) -> CorpusSummary:
    per_model: dict[str, int] = {}
    for r in rows:
        if r["model"]:
            per_model[r["model"]] = per_model.get(r["model"], 0) + int(r["n_segments"])
    gun = [r for r in rows if r["model"]]
    bg = [r for r in rows if not r["model"]]
    return CorpusSummary(out_dir, preset, seed, len(rows), len(gun), len(bg),
                         sum(int(r["n_segments"]) for r in gun), sum(int(r["n_segments"]) for r in bg),
                         per_model, sum(float(r["duration_s"]) for r in rows), elapsed, reused)


def synthesize_corpus(preset: str, out_dir: Path, seed: int = 0, progress: bool = True, *,
                      workers: int | None = None) -> CorpusSummary:
    """Generate the simulated corpus of `preset` into `out_dir` (see the module docstring).

    Raises ValueError, before writing anything, for an unknown preset, a bad seed or worker
    count, or an `out_dir` holding anything but this preset and seed's own output. A complete
    corpus of the same preset, seed and generator version is reused as it is.

    Example:
        >>> summary = synthesize_corpus("tiny", Path("/tmp/sim"), seed=0)  # doctest: +SKIP
        >>> summary.n_gunshot_segments
        96
    """
    if preset not in PRESETS:
        raise UserError(f"unknown preset '{preset}'; known presets: {', '.join(sorted(PRESETS))}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0 or seed >= 2**32:
        raise UserError(f"seed must be an integer in [0, 2^32), got {seed!r}")
    seed = int(seed)
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise UserError(f"workers must be an integer in 1..64, got {workers!r}")
    out_dir = Path(out_dir)
    recordings = plan(preset, seed)
    state = _check_out_dir(out_dir, preset, seed)
    start = time.perf_counter()
    if state == "complete":
        with open(out_dir / METADATA, newline="") as fh:
            rows = list(csv.DictReader(fh))
        return _summary(out_dir, preset, seed, rows, time.perf_counter() - start, True)

    out_dir.mkdir(parents=True, exist_ok=True)
    info = {"preset": preset, "seed": seed, "generator_version": GENERATOR_VERSION, "package_version": __version__}
    (out_dir / PARTIAL_MARKER).write_text(json.dumps(info, indent=2))
    # Longest first keeps both workers busy to the end.
    order = sorted(range(len(recordings)), key=lambda i: -recordings[i].duration_s)
    tasks = [(recordings[i], seed, str(out_dir), preset) for i in order]
    rows_by_id: dict[str, dict] = {}
    bar = tqdm(total=len(tasks), desc=f"synth {preset}", unit="rec", disable=not progress)
    if workers == 1:
        for task in tasks:
            row = _write_one(task)
            rows_by_id[row["recording_id"]] = row
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_write_one, tasks, chunksize=1):
                rows_by_id[row["recording_id"]] = row
                bar.update()
    bar.close()
    rows = [rows_by_id[r.recording_id] for r in recordings]
    columns = list(FIRST_COLUMNS) + sorted({k for r in rows for k in r} - set(FIRST_COLUMNS))
    with open(out_dir / METADATA, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    summary = _summary(out_dir, preset, seed, rows, time.perf_counter() - start, False)
    info.update(n_recordings=summary.n_recordings, n_gunshot_segments=summary.n_gunshot_segments,
                n_background_segments=summary.n_background_segments, licence=LICENCE)
    (out_dir / MARKER).write_text(json.dumps(info, indent=2))
    (out_dir / PARTIAL_MARKER).unlink()
    return summary
