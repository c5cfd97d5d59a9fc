"""Benchmark: pretrained-encoder embedding throughput (clips/s) and probe training time.

Embedding: `--clips` generated 2 s clips through the encoder (default aiSFX), front end and
network timed apart, `--repeats` times (median), one thread per process as the leaderboard's
workers run. Probe: `EmbeddingProbe.fit` on a dataset's `clean` train/validation splits (the
leaderboard's case: embeddings already cached, so this is standardising, four candidate
probes and the choice on validation); the first pass through the cache (cold unless
`--cache-dir` points at a warm one) is timed apart.

    python benchmarks/bench_embedding.py [--encoder aisfx] [--clips 16] [--repeats 3]
        [--data DATASET_DIR] [--task category] [--cache-dir ROOT] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import emit, machine_info  # noqa: E402

from gunshot_bench.encoders import encoder_unavailable_reason, get_encoder  # noqa: E402
from gunshot_bench.encoders.cache import EmbeddingCache  # noqa: E402
from gunshot_bench.models import get  # noqa: E402
from gunshot_bench.rng import derive_rng  # noqa: E402


def clips(n: int, seed: int = 0) -> np.ndarray:
    rng = derive_rng(seed, "bench_embedding")
    X = 0.01 * rng.standard_normal((n, 88200))
    for i in range(n):
        k = int(rng.integers(0, 88200 - 8000))
        X[i, k:k + 8000] += 0.5 * rng.standard_normal(8000) * np.exp(-np.arange(8000) / 400.0)
    return X.astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="aisfx")
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", type=Path, default=None, help="a built dataset for the probe timing")
    ap.add_argument("--task", default="category")
    ap.add_argument("--cache-dir", default=None, help="embedding cache root to reuse (default: a fresh one)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    reason = encoder_unavailable_reason(args.encoder)
    if reason is not None:
        sys.exit(f"bench_embedding: encoder {args.encoder} unavailable: {reason}")
    torch.set_num_threads(1)
    enc = get_encoder(args.encoder)
    result = {"machine": machine_info(), "encoder": enc.describe(), "clips": args.clips, "repeats": args.repeats}
    X = clips(args.clips)
    enc.embed(X[:1])  # warm-up (mel filters, first forward pass)
    t_front, t_total, c_total = [], [], []
    for _ in range(args.repeats):
        t = time.perf_counter(); enc.blocks(X) if hasattr(enc, "blocks") else None; t_front.append(time.perf_counter() - t)
        t, c = time.perf_counter(), time.process_time()
        enc.embed(X)
        t_total.append(time.perf_counter() - t)
        c_total.append(time.process_time() - c)
    total, front = statistics.median(t_total), statistics.median(t_front)
    # CPU time beside wall time: on a shared machine wall time includes waiting for a core
    result.update({"embed_clips_per_s": round(args.clips / total, 2), "embed_ms_per_clip": round(1000 * total / args.clips, 1),
                   "embed_cpu_ms_per_clip": round(1000 * statistics.median(c_total) / args.clips, 1),
                   "frontend_ms_per_clip": round(1000 * front / args.clips, 1)})
    if args.data is not None:
        from gunshot_bench.tasks import get_task
        from gunshot_bench.train import load_task_split

        task = get_task(args.task)
        Xtr, ytr, _ = load_task_split(args.data, task, "train")
        Xva, yva, _ = load_task_split(args.data, task, "validation")
        with tempfile.TemporaryDirectory() as tmp:
            cache_dir = args.cache_dir or tmp
            cache = EmbeddingCache(enc, cache_dir)
            t = time.perf_counter()
            cache.embed(np.concatenate([Xtr, Xva]))
            first = time.perf_counter() - t
            fits, fit_cpu = [], []
            load = [round(v, 2) for v in os.getloadavg()]
            for seed in range(args.repeats):
                t, c = time.perf_counter(), time.process_time()
                model = get("embedding_probe", encoder=args.encoder, cache_dir=cache_dir, random_state=seed)
                model.fit(Xtr, ytr, Xva, yva)
                fits.append(time.perf_counter() - t)
                fit_cpu.append(time.process_time() - c)
        result["probe"] = {"task": args.task, "train_clips": int(len(ytr)), "validation_clips": int(len(yva)),
                           "first_embed_s": round(first, 1), "clips_embedded_first": cache.embedded,
                           "fit_warm_cache_s": round(statistics.median(fits), 2),
                           "fit_warm_cache_cpu_s": round(statistics.median(fit_cpu), 2),
                           "load_average_1_5_15_at_fits": load,
                           "chosen": model.probe_kind_, "selection": model.selection_}
    emit(result, args.json)


if __name__ == "__main__":
    main()
