"""Benchmark: writing all variant configs (crowd_noise, energy, detection) of a simulated preset.

Synthesises the preset's corpus (`gunshot_bench.sim.synthesize_corpus`) and builds its `clean`
and `background` configs once (both reused from `--work` on later runs), then times
`write_variants(stage, ALL, seed)` on a fresh staging folder `--repeats` times and reports the
median wall time, rows written, gigabytes, peak memory, and how many rows clipped per level.
The target is under three minutes for the `paper` preset on a 2-core machine.

    python benchmarks/bench_variants.py --preset paper --repeats 1 [--workers 2] [--corpus standin] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.dataset.schema import SPLITS
from gunshot_bench.dataset.shards import shard_paths
from gunshot_bench.rng import derive_rng
from gunshot_bench.sim import synthesize_corpus
from gunshot_bench.sim.presets import model_dir, plan
from gunshot_bench.sources import SOURCE_KINDS
from gunshot_bench.variants import ALL, write_variants


def standin_corpus(preset: str, root: Path, seed: int) -> None:
    """The preset's exact plan (recordings, segments, models, background kinds) with cheap audio:
    shots as noise bursts with a 30 ms decay at -25..-1 dBFS peaks over a quiet floor; crowd,
    scream, street, wind, rain and music as modulated noise; confusers as bursts. For timing the
    variants when the simulator is unavailable; its audio is not the simulator's."""
    sr = 44_100
    for rec in plan(preset, seed):
        rng = derive_rng(seed, "bench-standin", rec.recording_id)
        n = int(round((2.0 * rec.n_segments + rec.tail_s) * sr))
        x = 10 ** (rng.uniform(-60, -45) / 20) * rng.standard_normal(n)
        impulsive = rec.model is not None or rec.kind not in ("crowd", "scream", "street", "wind", "rain", "music")
        if impulsive:
            for start in np.cumsum(rng.uniform(0.3, 1.6, size=int(n / sr / 0.3) + 1)):
                k = int(start * sr)
                if k >= n:
                    break
                burst = min(n - k, int(0.3 * sr))
                x[k:k + burst] += (10 ** (rng.uniform(-25, -1) / 20) * np.exp(-np.arange(burst) / (0.03 * sr))
                                   * rng.standard_normal(burst) / 3)
        else:
            t = np.arange(n) / sr
            x += 10 ** (rng.uniform(-30, -15) / 20) * (1 + 0.4 * np.sin(2 * np.pi * 3 * t)) * rng.standard_normal(n)
        folder = root / (rec.category or "") / model_dir(rec.model) if rec.model else root / "_background" / rec.kind
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{rec.recording_id}.wav", np.clip(x, -1, 1), sr, subtype="PCM_16")


def base_build(preset: str, work: Path, seed: int, corpus_kind: str) -> Path:
    """The preset's dataset without variants (built once, then reused)."""
    corpus, base = work / f"corpus-{preset}-{corpus_kind}", work / f"base-{preset}-{corpus_kind}"
    if not (base / "manifest.json").is_file():
        t = time.perf_counter()
        if corpus_kind == "sim":
            synthesize_corpus(preset, corpus, seed=seed)
        else:
            shutil.rmtree(corpus, ignore_errors=True)
            standin_corpus(preset, corpus, seed)
        print(f"corpus ready in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        kind = "sim" if corpus_kind == "sim" and _has_sim_source() else "folder"
        t = time.perf_counter()
        build_dataset(BuildConfig(sources=((kind, str(corpus)),), out_dir=str(base), seed=seed, overwrite=True))
        print(f"base build ({kind}) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return base


def _has_sim_source() -> bool:
    try:
        from gunshot_bench.sources import get_source

        get_source("sim")
        return "sim" in SOURCE_KINDS
    except (ImportError, ValueError):
        return False


def fresh_stage(base: Path, stage: Path) -> None:
    """A staging folder holding (hard links to) the base shards, as the build hands it over."""
    shutil.rmtree(stage, ignore_errors=True)
    for config in ("clean", "background"):
        target = stage / "data" / config
        target.mkdir(parents=True)
        for path in (base / "data" / config).glob("*.parquet"):
            os.link(path, target / path.name)


def clipped_share(stage: Path) -> dict:
    """Fraction of clipped rows per config and level (read from the `clipped` columns only)."""
    out = {}
    for config, level in (("crowd_noise", "snr_db"), ("energy", "applied_level"), ("detection", "detection_kind")):
        total, clipped = Counter(), Counter()
        for split in SPLITS:
            for path in shard_paths(stage, config, split):
                columns = ["clipped", "energy_mode", "gain_db", "target_lufs"] if config == "energy" else ["clipped", level]
                table = pq.read_table(path, columns=columns).to_pydict()
                for i, was_clipped in enumerate(table["clipped"]):
                    if config == "energy":
                        key = (f"gain {table['gain_db'][i]:+g} dB" if table["energy_mode"][i] == "gain"
                               else f"{table['target_lufs'][i]:g} LUFS")
                    else:
                        key = str(table[level][i])
                    total[key] += 1
                    clipped[key] += bool(was_clipped)
        out[config] = {k: round(clipped[k] / total[k], 3) for k in total}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--corpus", choices=("sim", "standin"), default="sim",
                    help="sim: the simulator's corpus; standin: the same plan with cheap audio")
    ap.add_argument("--work", type=Path, default=Path("/tmp/gunshot-bench-bench-variants"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the last staging folder")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = base_build(args.preset, args.work, args.seed, args.corpus)
    stage = args.work / "stage"
    walls, summaries, gigabytes, clipping = [], [], 0.0, {}
    for r in range(args.repeats):
        fresh_stage(base, stage)
        t = time.perf_counter()
        summaries = write_variants(stage, ALL, args.seed, progress=True, workers=args.workers)
        walls.append(time.perf_counter() - t)
        gigabytes = sum(p.stat().st_size for c in ALL for p in (stage / "data" / c).glob("*.parquet")) / 1e9
        clipping = clipped_share(stage)
        print(f"repeat {r + 1}: {walls[-1]:.1f} s", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(stage, ignore_errors=True)
    rows = {s.config: s.counts for s in summaries}
    total_rows = sum(sum(c.values()) for c in rows.values())
    result = {
        "preset": args.preset, "corpus": args.corpus, "repeats": args.repeats, "workers": args.workers or "auto",
        "median_wall_s": round(statistics.median(walls), 1), "wall_s_all": [round(w, 1) for w in walls],
        "rows": rows, "rows_per_s": round(total_rows / statistics.median(walls), 1),
        "gigabytes_written": round(gigabytes, 2),
        "skipped": {s.config: s.skipped for s in summaries},
        "peak_rss_main_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "clipped_share": clipping,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
