"""Benchmark: extra main-job time of the aiSFX probe entries on a built dataset.

Runs what `gunshot-bench run` runs for these entries: `run_leaderboard` (3 seeds, profile
`small`) then `run_robustness` (30 clips per level, no study B), timed apart. Point
`GUNSHOT_BENCH_CACHE` at an empty folder for the cold-cache figure.

    GUNSHOT_BENCH_CACHE=/tmp/emb_cache python benchmarks/bench_embedding_main_job.py --data DIR --out /tmp/lb
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import emit, machine_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", default="aisfx_probe,aisfx_probe_two_stage")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from gunshot_bench.protocols.leaderboard import run_leaderboard
    from gunshot_bench.protocols.robustness import run_robustness

    result = {"machine": machine_info(), "cache": os.environ.get("GUNSHOT_BENCH_CACHE")}
    common = dict(models=args.models, seeds=3, out_dir=args.out, profile="small", preset="small", progress=False,
                  render=False)
    t0 = time.perf_counter()
    board = run_leaderboard(args.data, **common)
    t1 = time.perf_counter()
    robust = run_robustness(args.data, **common, study_b=False, max_clips_per_level=30)
    t2 = time.perf_counter()
    result.update({"leaderboard_s": round(t1 - t0, 1), "robustness_s": round(t2 - t1, 1), "total_s": round(t2 - t0, 1),
                   "failed": [str(f) for f in board.failed + robust.failed]})
    emit(result, args.json)


if __name__ == "__main__":
    main()
