"""Benchmark: wall time of the main job (corpus -> dataset -> leaderboard -> robustness) on a preset.

Runs `pipeline.run_main` in a fresh working folder (nothing reused) and records the time of
each step as the pipeline reports it. One repeat by default: the `small` preset alone takes
minutes, `paper` hours, so a median needs `--repeats` > 1 and the time for it.

    python benchmarks/bench_leaderboard.py --preset small [--repeats 1] [--json out.json]
    python benchmarks/bench_leaderboard.py --preset paper --keep runs/paper-bench   # keep the results

`--keep DIR` works in DIR (which must not exist yet) and leaves it in place, so the one timed
run also gives the result files (`DIR/leaderboard/results/`) to commit.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import emit, machine_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small", choices=["tiny", "small", "paper"])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per entry (the main job's default)")
    ap.add_argument("--progress", action="store_true", help="show the main job's progress bars")
    ap.add_argument("--keep", type=Path, default=None, help="work in this new folder and keep it (one repeat)")
    args = ap.parse_args()
    if args.keep is not None and (args.keep.exists() or args.repeats != 1):
        sys.exit(f"--keep needs a folder that does not exist yet and --repeats 1: {args.keep}")
    from gunshot_bench.pipeline import MainJobConfig, run_main

    result = {"machine": machine_info(), "preset": args.preset, "repeats": args.repeats, "runs": []}
    for r in range(args.repeats):
        work = args.keep or Path(tempfile.mkdtemp(prefix="bench_lb_", dir=args.workdir))
        try:
            t = time.perf_counter()
            job = run_main(MainJobConfig(preset=args.preset, out_dir=str(work), seeds=args.seeds,
                                         progress=args.progress))
            wall = time.perf_counter() - t
            result["runs"].append({"wall_s": round(wall, 1), "failed": [str(f) for f in job.failed], "seeds": args.seeds,
                                   "steps_s": {k: round(v, 1) for k, v in job.timings_s.items()}})
            print(f"repeat {r + 1}: {result['runs'][-1]}", file=sys.stderr)
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
    result["median_wall_s"] = statistics.median(run["wall_s"] for run in result["runs"])
    emit(result, args.json)


if __name__ == "__main__":
    main()
