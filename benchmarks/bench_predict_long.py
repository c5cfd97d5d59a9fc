"""Benchmark: `predict` on long recordings, memory and time for 10 min and 1 h of scene audio.

The model is the default network of `bench_inference.make_run` (a two-stage AudioResNet with
the default channels, exported to ONNX, so `engine="auto"` runs onnxruntime as `predict` does
by default; speed does not depend on what was learned). Each recording is generated once
(`scene_recording`) and `predict_files` runs on it in a FRESH subprocess that reports its own
peak resident memory (VmHWM), the wall and CPU time of the `predict_files` call (loading the
model included; `process_wall_s` adds Python's imports) and the events found; a subprocess
that only loads the model gives the memory not due to the audio.

Scene audio (an assumption of what a field recording holds, stated here): pink noise at
-45 dBFS RMS, plus events at random times (exponential gaps, mean `--mean-gap-s`): 70 % single
shots, 30 % bursts of 3-30 shots at 600-1000 rpm; each shot is broadband noise decaying with a
time constant of 15-60 ms, low-passed at 3-12 kHz (distance), 12-35 dB above the noise; plus as
many non-shot transients (door-slam-like thuds below 1 kHz, 8-20 dB). Written as 16-bit WAV at
`--sample-rate` (48 kHz stereo by default, so the resampler and the downmix are in the path).

    python benchmarks/bench_predict_long.py [--durations-s 600,3600] [--engine auto|torch|onnx] [--json out.json]
    python benchmarks/bench_predict_long.py --attribution-only [--engine torch]   # memory per import step
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import make_run  # noqa: E402
from machine import emit, machine_info  # noqa: E402

from gunshot_bench.predict import BATCH  # noqa: E402
from gunshot_bench.rng import derive_rng  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from gunshot_bench.predict import load_for_inference, predict_files
run, path, batch, engine = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t1, c1 = time.perf_counter(), time.process_time()
if path == "-":
    load_for_inference(run, engine)
    out = {}
else:
    r = predict_files([path], run_dir=run, batch_size=batch, engine=engine)[0]
    out = {"ok": r.ok, "error": r.error, "events": len(r.detections),
           "shots": sum(d.n_shots for d in r.detections), "threshold_db": r.threshold_db}
# VmHWM, not getrusage's ru_maxrss: the latter keeps the forking parent's size across exec
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
out.update(wall_s=round(time.perf_counter() - t1, 2), cpu_s=round(time.process_time() - c1, 2),
           process_wall_s=round(time.perf_counter() - t0, 2), peak_rss_mb=round(hwm / 1024, 1))
print(json.dumps(out))
"""


# Resident memory after each step of what `predict` imports and loads, in that order (a step's
# figure includes what it pulls in that earlier steps did not). The ONNX engine ("auto" on an
# exported run) loads through `gunshot_bench.exported`: no torch, no scikit-learn; the torch
# engine's steps add them.
ATTRIBUTION = """
import importlib, json, sys
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
torch_engine = sys.argv[2] == "torch"
steps = [("python", rss())]
for label, modules in [("numpy, soundfile, soxr", ["numpy", "soundfile", "soxr"]),
                       ("scipy.ndimage, scipy.signal (onset detector)", ["scipy.ndimage", "scipy.signal"]),
                       ("gunshot_bench.predict", ["gunshot_bench.predict"]),
                       ("torch", ["torch"] if torch_engine else None),
                       ("scikit-learn (model base class; pulls pandas, pyarrow)", ["sklearn.base"] if torch_engine else None),
                       ("the two-stage model's modules and train.load_run",
                        ["gunshot_bench.models.two_stage", "gunshot_bench.train"] if torch_engine else None),
                       ("onnxruntime", None if torch_engine else ["onnxruntime"])]:
    if modules is None:
        continue
    for m in modules:
        importlib.import_module(m)
    steps.append((label, rss()))
from gunshot_bench.predict import load_for_inference
load_for_inference(sys.argv[1], sys.argv[2])
steps.append(("load the run (networks, sessions)", rss()))
print(json.dumps([(label, round(mb, 1), round(mb - prev, 1)) for (label, mb), (_, prev) in zip(steps, [("", 0.0)] + steps)]))
"""


def pink_noise(rng: np.random.Generator, n: int, rms: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 20))
    x = np.fft.irfft(spectrum, n)
    return rms * x / x.std()


def scene_recording(path: Path, duration_s: float, sample_rate: int = 48_000, channels: int = 2,
                    mean_gap_s: float = 8.0, seed: int = 0) -> dict:
    """Write the scene (see the module docstring) minute by minute; returns what it holds."""
    noise_rms = 10 ** (-45 / 20)
    counts = {"events": 0, "shots": 0, "bursts": 0, "thuds": 0}
    with sf.SoundFile(path, "w", sample_rate, channels, "PCM_16") as f:
        block_s = 60
        for b in range(int(np.ceil(duration_s / block_s))):
            rng = derive_rng(seed, "scene", b)
            n = int(min(block_s, duration_s - b * block_s) * sample_rate)
            x = pink_noise(rng, n, noise_rms)
            t = rng.exponential(mean_gap_s)
            while t < n / sample_rate - 4.0:  # events start and end inside their minute
                burst = rng.random() < 0.3
                n_shots = int(rng.integers(3, 31)) if burst else 1
                period = 60.0 / rng.uniform(600, 1000)
                tau, cutoff = rng.uniform(0.015, 0.06), rng.uniform(3000, 12000)
                level_db = rng.uniform(12, 35)
                sos = butter(2, cutoff, fs=sample_rate, output="sos")
                for k in range(n_shots):
                    start = int((t + k * period) * sample_rate)
                    m = min(int(0.5 * sample_rate), n - start)
                    s = sosfilt(sos, rng.standard_normal(m)) * np.exp(-np.arange(m) / sample_rate / tau)
                    x[start:start + m] += s / s[:int(0.01 * sample_rate)].std() * noise_rms * 10 ** (level_db / 20)
                counts["events"] += 1
                counts["shots"] += n_shots
                counts["bursts"] += burst
                t += n_shots * period + rng.exponential(mean_gap_s)
            t = rng.exponential(2 * mean_gap_s)
            low = butter(2, 1000, fs=sample_rate, output="sos")
            while t < n / sample_rate - 1.0:  # thuds: not gunshots, the classifier's problem
                start, m = int(t * sample_rate), int(0.3 * sample_rate)
                s = sosfilt(low, rng.standard_normal(m)) * np.exp(-np.arange(m) / sample_rate / 0.05)
                x[start:start + m] += s / s.std() * noise_rms * 10 ** (rng.uniform(8, 20) / 20)
                counts["thuds"] += 1
                t += rng.exponential(2 * mean_gap_s)
            f.write(np.repeat(np.clip(x, -1, 1)[:, None], channels, 1).astype(np.float32))
    return counts


def child(run: Path, path: str, batch: int, engine: str = "auto") -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(run), path, str(batch), engine], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def attribution(run: Path, engine: str) -> list:
    """[(step, RSS MB after it, MB it added)] of `ATTRIBUTION` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", ATTRIBUTION, str(run), engine], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--durations-s", default="600,3600", help="comma-separated recording lengths")
    ap.add_argument("--sample-rate", type=int, default=48_000)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--mean-gap-s", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=BATCH, help="windows per model call (predict's default)")
    ap.add_argument("--engine", default="auto", choices=["auto", "torch", "onnx"],
                    help="predict's network runtime (auto: onnxruntime, as the run is exported)")
    ap.add_argument("--attribution-only", action="store_true",
                    help="only the resident memory of each import and load step (no recordings)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    result = {"machine": machine_info(), "sample_rate": args.sample_rate, "channels": args.channels,
              "mean_gap_s": args.mean_gap_s, "batch": args.batch, "engine": args.engine, "targets": {"peak_rss_mb": 500, "rss_ratio_1h_10min": 1.2,
                                                         "s_per_hour": 30}}
    with tempfile.TemporaryDirectory(prefix="bench_predict_long_") as tmp:
        run = make_run(Path(tmp))
        result["attribution"] = attribution(run, args.engine)
        print("attribution", json.dumps(result["attribution"]), file=sys.stderr)
        if args.attribution_only:
            emit(result, args.json)
            return
        result["model_only"] = child(run, "-", args.batch, args.engine)
        print("model only", json.dumps(result["model_only"]), file=sys.stderr)
        rows = {}
        for seconds in (float(s) for s in args.durations_s.split(",")):
            wav = Path(tmp) / f"scene_{int(seconds)}.wav"
            scene = scene_recording(wav, seconds, args.sample_rate, args.channels, args.mean_gap_s)
            load = [round(v, 2) for v in os.getloadavg()]
            row = {"duration_s": seconds, "batch": args.batch, "engine": args.engine,
                   "file_mb": round(wav.stat().st_size / 2**20, 1), "load_average_1_5_15": load,
                   "scene": scene, **child(run, str(wav), args.batch, args.engine)}
            row["s_per_hour"] = round(3600 * row["wall_s"] / seconds, 1)
            rows[f"{int(seconds)}"] = row
            wav.unlink()
            print(json.dumps(row), file=sys.stderr)
        result["recordings"] = rows
        rss = [r["peak_rss_mb"] for r in rows.values()]
        if len(rss) >= 2:
            result["rss_ratio_longest_shortest"] = round(rss[-1] / rss[0], 3)
    emit(result, args.json)


if __name__ == "__main__":
    main()
