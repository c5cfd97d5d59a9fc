"""Benchmark: dataset build throughput and peak memory on a corpus of N two-second clips.

Writes a `folder` corpus of `--clips` 2 s clips spread over the 32 models (one file per clip,
as in the Kaggle layout; generated noise bursts, so generation is cheap), then times
`build_dataset` (clean + background, no variants) `--repeats` times and reports the median
wall time, clips per second and the peak resident memory of the build (main process and
workers, from a fresh process per repeat).

    python benchmarks/bench_build.py --clips 3343 --repeats 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from gunshot_bench.rng import derive_rng
from gunshot_bench.taxonomy import MODELS


_TAIL = (np.exp(-np.arange(4410) / 400.0) * 0.5).astype(np.float32)


def make_corpus(root: Path, n_clips: int, sample_rate: int = 44_100) -> None:
    for i in range(n_clips):
        model = MODELS[i % len(MODELS)]
        rng = derive_rng(0, "bench", i)
        x = rng.standard_normal(2 * sample_rate, dtype=np.float32) * 0.01
        k = int(rng.integers(0, sample_rate))
        x[k:k + 4410] += rng.standard_normal(4410, dtype=np.float32) * _TAIL
        folder = root / model.replace(" ", "_").replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"clip ({i}).wav", x, sample_rate, subtype="PCM_16")


CHILD = """
import json, resource, sys, time
from gunshot_bench.dataset.build import BuildConfig, build_dataset
t = time.perf_counter()
s = build_dataset(BuildConfig(sources=(("folder", sys.argv[1]),), out_dir=sys.argv[2], overwrite=True), progress=False)
wall = time.perf_counter() - t
peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
import os
print(json.dumps({"wall_s": wall, "workers": os.cpu_count(), "segments": sum(sum(v.values()) for v in s.segments.values()),
                  "peak_rss_main_mb": peak_self, "peak_rss_worker_mb": peak_children}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=3343)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--tmp", type=Path, default=None, help="scratch folder (default: the system temp)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import emit, machine_info

    info = machine_info()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        corpus = Path(tmp) / "corpus"
        t = time.perf_counter()
        make_corpus(corpus, args.clips)
        corpus_s = time.perf_counter() - t
        print(f"corpus of {args.clips} clips written in {corpus_s:.1f} s", file=sys.stderr)
        runs = []
        for r in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", CHILD, str(corpus), str(Path(tmp) / "ds")],
                                 check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            runs[-1]["output_mb"] = sum(f.stat().st_size for f in (Path(tmp) / "ds").rglob("*") if f.is_file()) / 2**20
            print(f"repeat {r + 1}: {runs[-1]}", file=sys.stderr)
    wall = statistics.median(run["wall_s"] for run in runs)
    workers = runs[0]["workers"]
    result = {"machine": info, "clips": args.clips, "workers": workers,
              "corpus_write_s": round(corpus_s, 1), "output_mb": round(max(r["output_mb"] for r in runs), 1), "repeats": args.repeats, "median_wall_s": round(wall, 2),
              "clips_per_s": round(args.clips / wall, 1),
              "peak_rss_main_mb": round(max(r["peak_rss_main_mb"] for r in runs), 1),
              "peak_rss_worker_mb": round(max(r["peak_rss_worker_mb"] for r in runs), 1),
              "wall_s_all": [round(r["wall_s"], 2) for r in runs]}
    # ru_maxrss of the children is the largest worker's peak: main + workers x that bounds
    # the concurrent total from above
    result["peak_rss_total_bound_mb"] = round(result["peak_rss_main_mb"] + workers * result["peak_rss_worker_mb"], 1)
    emit(result, args.json)


if __name__ == "__main__":
    main()
