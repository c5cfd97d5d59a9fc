"""Benchmark: peak memory of one classical `svm` fit with train-time augmentation (issue 14).

The `svm` entry is trained once on its training split plus `copies` augmented copies
(`gunshot_bench.augment`, its baseline's `[augment]` table). On the `paper` detection split
one such fit reached 11.1 GB RSS when the out-of-memory killer ended it: the split, its
augmented copies and their concatenation were all in memory at once. Now the model
featurises the copies a chunk at a time (`Augmenter.copy_chunks`).

Each measurement runs in a fresh process (so that its peak RSS is its own) that generates
`--clips` training clips (noise, half of them with a decaying burst: gunshot vs not, like the
`detection` task) and `--background` background clips, then runs what `train_run` runs:
`augment.training_augmentation` (the background split patched in) and `fit`. It reports the
RSS once the inputs exist, the peak RSS, and a fingerprint of the fitted model and of its
probabilities on held-out clips (equal fingerprints: the same model).

`--code DIR` runs the same measurement with the package of another checkout (e.g. one at the
commit before the change) for the "before" figures:

    python benchmarks/bench_classical_memory.py --clips 1000,3000 --code . --code /path/to/old/checkout

The per-clip figure is the slope of the peak between the two sizes, so the fixed part (the
interpreter, libraries, one chunk of MFCC buffers) drops out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import emit, machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLIP_SAMPLES = 88200


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _clips(n: int, seed: int, tag: str, burst_every: int = 2):
    """(X float32 [n, 88200], y): quiet noise, every `burst_every`-th clip with a decaying burst."""
    import numpy as np

    from gunshot_bench.rng import derive_rng

    X = np.empty((n, CLIP_SAMPLES), np.float32)  # filled row by row: no float64 batch in memory
    y = np.zeros(n, np.int64)
    for i in range(n):
        rng = derive_rng(seed, "bench_classical_memory", tag, i)
        X[i] = 0.01 * rng.standard_normal(CLIP_SAMPLES)
        if burst_every and i % burst_every == 0:
            k, m = int(rng.integers(0, 44100)), 8000
            X[i, k:k + m] += 0.5 * rng.standard_normal(m) * np.exp(-np.arange(m) / (300.0 + 40 * (i % 7)))
            y[i] = 1
    return X, y


def child(n_clips: int, n_background: int, seed: int) -> dict:
    import numpy as np
    import pandas as pd

    import gunshot_bench
    import gunshot_bench.dataset.read as read
    from gunshot_bench.augment import AugmentConfig, training_augmentation
    from gunshot_bench.models import get
    from gunshot_bench.train import load_baseline, split_overrides

    X, y = _clips(n_clips, seed, "train")
    background, _ = _clips(n_background, seed, "background", burst_every=0)
    frame = pd.DataFrame({"clip_id": [f"bench/{i}.wav#0" for i in range(n_clips)]})
    bg_frame = pd.DataFrame({"is_gunshot": np.zeros(n_background, bool)})
    # the background config's training split, as train_run's hook reads it
    read.load_arrays = lambda data_dir, config, split, *a, **k: (background, bg_frame)
    X_test, _ = _clips(64, seed + 1, "test")
    entry = load_baseline("svm")  # the full (paper) settings: copies 1, p 0.7, MP3 on
    overrides = entry["overrides"]
    config = AugmentConfig.from_dict(overrides["augment"])
    data_rss = _rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    _, params = split_overrides("svm", overrides)
    model = get("svm", **params, random_state=seed)
    X_fit, y_fit, kwargs = training_augmentation(model, config, seed, X, y, frame, "unused")
    model.fit(X_fit, y_fit, None, None, **kwargs)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    digest = hashlib.sha256()
    for a in (model.scaler_.mean_, model.scaler_.scale_, model.svc_.support_vectors_, model.svc_.dual_coef_,
              model.predict_proba(X_test)):
        digest.update(np.ascontiguousarray(a).tobytes())
    return {"package": str(Path(gunshot_bench.__file__).resolve().parents[1]), "clips": n_clips,
            "background_clips": n_background, "copies": config.copies, "augment_p": config.p,
            "fitted_rows": int(model.scaler_.n_samples_seen_), "inputs_rss_mb": round(data_rss, 1),
            "peak_rss_mb": round(_peak_mb(), 1), "fit_wall_s": round(wall, 1),
            "fit_cpu_s": round(cpu, 1),  # user + system time of all threads: less sensitive to a shared machine's load
            "model_sha256": digest.hexdigest()}


def measure(code: Path, n_clips: int, n_background: int, seed: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--clips", str(n_clips),
           "--background", str(n_background), "--seed", str(seed)]
    out = subprocess.run(cmd, cwd=code, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default="1000,3000", help="training clips per measurement, comma-separated")
    ap.add_argument("--background", type=int, default=300, help="background clips (default 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--code", action="append", type=Path, default=None,
                    help="a checkout whose package to measure (repeatable; default this one)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(int(args.clips), args.background, args.seed)))
        return
    sizes = [int(c) for c in args.clips.split(",")]
    runs = {}
    for code in args.code or [ROOT]:
        rows = [measure(code.resolve(), n, args.background, args.seed) for n in sizes]
        summary = {"runs": rows}
        if len(rows) >= 2:
            a, b = rows[0], rows[-1]
            summary["peak_kb_per_training_clip"] = round(
                (b["peak_rss_mb"] - a["peak_rss_mb"]) * 1024 / (b["clips"] - a["clips"]), 1)
            summary["fit_extra_kb_per_training_clip"] = round(
                ((b["peak_rss_mb"] - b["inputs_rss_mb"]) - (a["peak_rss_mb"] - a["inputs_rss_mb"])) * 1024
                / (b["clips"] - a["clips"]), 1)
        runs[str(code.resolve())] = summary
    emit({"benchmark": "bench_classical_memory", "machine": machine_info(),
          "waveform_kb_per_clip": round(CLIP_SAMPLES * 4 / 1024, 1), "by_code": runs}, args.json)


if __name__ == "__main__":
    main()
