"""Benchmark: the neural models' size, inference latency, training throughput and features.

Measures, on this machine:
- parameters and FLOPs per 2 s clip of the two-stage and flat AudioResNets and the CNN;
- two-stage inference latency on ONE clip with ONE thread (features + stage 1 + the routed
  sub-model), median and p95 over `--repeats`; and of its parts;
- training throughput (samples/s over full epochs, features precomputed) with all threads,
  and from it the estimated time per epoch of the full two-stage protocol on the `paper`
  preset (stage 1 and the sub-models each see every training clip once per epoch);
- log-STFT throughput (clips/s) against a per-clip `librosa.stft` + `log1p` reference, with
  the largest difference between the two.

    python benchmarks/bench_models.py [--channels 16,32,64,128] [--repeats 100] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import librosa
import numpy as np
import torch

from gunshot_bench.features import CLIP_SAMPLES, SAMPLE_RATE, log_stft
from gunshot_bench.models import get
from gunshot_bench.rng import derive_rng
from gunshot_bench.taxonomy import MODELS

PAPER_TRAIN_CLIPS = round(0.7 * 3343)  # study A's 3,343 clips, 70 % in training


def synthetic_clips(n_per_model: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise bursts with a decaying tail, n per model id (content is irrelevant to speed)."""
    y = np.repeat(np.arange(len(MODELS)), n_per_model)
    X = np.zeros((len(y), CLIP_SAMPLES), np.float32)
    for i, m in enumerate(y):
        rng = derive_rng(seed, "bench_models", i)
        X[i] = 0.01 * rng.standard_normal(CLIP_SAMPLES)
        k = int(rng.integers(0, SAMPLE_RATE))
        n = 8000
        X[i, k:k + n] += 0.5 * rng.standard_normal(n) * np.exp(-np.arange(n) / (300.0 + 40 * m))
    return X, y


def timings(fn, repeats: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return {"median_ms": 1000 * statistics.median(ts), "p95_ms": 1000 * ts[int(0.95 * (len(ts) - 1))],
            "min_ms": 1000 * ts[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", default="16,32,64,128")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--train-clips", type=int, default=128)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    channels = tuple(int(c) for c in args.channels.split(","))
    threads = torch.get_num_threads()
    out: dict = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                             "torch_threads": threads, "torch": torch.__version__},
                 "channels": channels}
    out["machine"]["load_average"] = [round(v, 1) for v in os.getloadavg()]

    X, y = synthetic_clips(2)
    two = get("audioresnet_two_stage", channels=channels, max_epochs=1, batch_size=32).fit(X, y)
    out["two_stage"] = two.complexity()
    out["flat"] = get("audioresnet_flat", channels=channels, max_epochs=1).fit(X[:64], y[:64]).complexity()
    out["cnn"] = get("cnn", max_epochs=1).fit(X[:64], y[:64]).complexity()

    torch.set_num_threads(1)
    clip = X[:1]
    feats = log_stft(clip)
    out["latency_one_clip_one_thread"] = {
        "two_stage_predict": timings(lambda: two.predict(clip), args.repeats),
        "log_stft": timings(lambda: log_stft(clip), args.repeats),
        "stage1_network": timings(lambda: two.stage1_.predict_proba_features(feats), args.repeats),
    }
    torch.set_num_threads(threads)

    n = args.train_clips
    Xt, yt = synthetic_clips(max(1, n // len(MODELS)), seed=1)
    F = log_stft(Xt, dtype=np.float16)
    flat = get("audioresnet_flat", channels=channels, max_epochs=2)
    t = time.perf_counter()
    flat.fit_features(F, yt)
    train_s = time.perf_counter() - t
    sps = 2 * len(F) / train_s
    out["training"] = {"samples_per_s": sps, "clips": len(F), "epochs": 2,
                       "paper_two_stage_epoch_s_estimate": 2 * PAPER_TRAIN_CLIPS / sps,
                       "paper_two_stage_60_epochs_min_estimate": 60 * 2 * PAPER_TRAIN_CLIPS / sps / 60}

    B = X[:64]
    t = time.perf_counter()
    fast = log_stft(B)
    fast_s = time.perf_counter() - t
    t = time.perf_counter()
    ref = np.stack([np.log1p(np.abs(librosa.stft(c, n_fft=1024, hop_length=256)))[1:] for c in B])
    ref_s = time.perf_counter() - t
    out["features"] = {"log_stft_clips_per_s": len(B) / fast_s, "librosa_clips_per_s": len(B) / ref_s,
                       "speedup": ref_s / fast_s, "max_abs_diff": float(np.abs(fast - ref).max())}

    lat = out["latency_one_clip_one_thread"]["two_stage_predict"]
    print(f"| figure | value |\n|---|---|\n"
          f"| two-stage params | {out['two_stage']['params']:,} |\n"
          f"| two-stage FLOPs per clip (stage 1 + routed sub-model) | {out['two_stage']['flops_per_clip'] / 1e6:.0f} M |\n"
          f"| flat params / FLOPs | {out['flat']['params']:,} / {out['flat']['flops_per_clip'] / 1e6:.0f} M |\n"
          f"| CNN params / FLOPs | {out['cnn']['params']:,} / {out['cnn']['flops_per_clip'] / 1e6:.0f} M |\n"
          f"| two-stage latency, 1 clip, 1 thread (median / p95 / min) | {lat['median_ms']:.1f} / {lat['p95_ms']:.1f} / {lat['min_ms']:.1f} ms |\n"
          f"| stage-1 network alone, 1 clip (median / min) | {out['latency_one_clip_one_thread']['stage1_network']['median_ms']:.1f} / {out['latency_one_clip_one_thread']['stage1_network']['min_ms']:.1f} ms |\n"
          f"| log-STFT, 1 clip | {out['latency_one_clip_one_thread']['log_stft']['median_ms']:.1f} ms |\n"
          f"| training throughput ({threads} threads) | {sps:.0f} samples/s |\n"
          f"| est. two-stage epoch on `paper` | {out['training']['paper_two_stage_epoch_s_estimate']:.0f} s |\n"
          f"| log-STFT vs librosa | {out['features']['speedup']:.1f}x, max diff {out['features']['max_abs_diff']:.1e} |\n"
          f"| load average during the run (other processes share the cores) | {out['machine']['load_average']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
