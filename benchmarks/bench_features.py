"""Benchmark: log-STFT feature throughput against a straightforward per-clip librosa reference.

The reference is what a reader of study A would write: `np.log1p(np.abs(librosa.stft(clip,
n_fft=1024, hop_length=256)))[1:]` clip by clip. The library's `features.log_stft` batches
the clips through one `torch.stft` call. Both run in the same process on the same clips,
alternating, `--repeats` times; the figures are medians and the ratio is of the medians.

    python benchmarks/bench_features.py [--clips 64] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import librosa
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import emit, machine_info  # noqa: E402

from gunshot_bench.features import CLIP_SAMPLES, HOP_LENGTH, N_FFT, log_stft  # noqa: E402
from gunshot_bench.rng import derive_rng  # noqa: E402


def reference_log_stft(X: np.ndarray) -> np.ndarray:
    """The straightforward path: per-clip librosa.stft, magnitude, log1p, DC bin dropped."""
    return np.stack([np.log1p(np.abs(librosa.stft(c, n_fft=N_FFT, hop_length=HOP_LENGTH)))[1:]
                     for c in X])


def clips(n: int, seed: int = 0) -> np.ndarray:
    rng = derive_rng(seed, "bench_features")
    X = 0.01 * rng.standard_normal((n, CLIP_SAMPLES))
    for i in range(n):
        k = int(rng.integers(0, CLIP_SAMPLES - 8000))
        X[i, k:k + 8000] += 0.5 * rng.standard_normal(8000) * np.exp(-np.arange(8000) / 400.0)
    return X.astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    result = {"machine": machine_info(), "clips": args.clips, "repeats": args.repeats}
    X = clips(args.clips)
    fast, ref = log_stft(X), reference_log_stft(X)  # warm-up, and the equality check
    result["max_abs_diff"] = float(np.abs(fast - ref).max())
    result["fast_float16_max_abs_diff"] = float(np.abs(log_stft(X, dtype=np.float16).astype(np.float32) - ref).max())
    t_fast, t_ref = [], []
    for _ in range(args.repeats):
        t = time.perf_counter(); log_stft(X); t_fast.append(time.perf_counter() - t)
        t = time.perf_counter(); reference_log_stft(X); t_ref.append(time.perf_counter() - t)
    f, r = statistics.median(t_fast), statistics.median(t_ref)
    result.update({"log_stft_clips_per_s": round(args.clips / f, 1),
                   "librosa_reference_clips_per_s": round(args.clips / r, 1),
                   "speedup": round(r / f, 2), "target_speedup": 2.0})
    emit(result, args.json)


if __name__ == "__main__":
    main()
