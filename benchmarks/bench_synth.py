"""Time `gunshot-bench synth` per preset: wall time, median over repeats (target: paper < 120 s).

Usage: python benchmarks/bench_synth.py [--preset paper] [--repeats 3] [--workers 2]

Each repeat writes a fresh corpus into a temporary folder (removed afterwards). The machine's
load average is printed too: on a shared machine other jobs slow the figure down.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from gunshot_bench.sim import synthesize_corpus


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    times = []
    for i in range(args.repeats):
        tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
        try:
            load = os.getloadavg()[0]
            cpu0 = _cpu_s()
            start = time.perf_counter()
            s = synthesize_corpus(args.preset, tmp / "corpus", seed=args.seed, progress=False, workers=args.workers)
            elapsed = time.perf_counter() - start
            cpu = _cpu_s() - cpu0
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        times.append(elapsed)
        print(f"repeat {i + 1}: {elapsed:.1f} s wall, {cpu:.1f} s CPU incl. workers (load average before: "
              f"{load:.1f}); {s.n_recordings} recordings, "
              f"{s.n_gunshot_segments} gunshot + {s.n_background_segments} background segments, "
              f"{s.audio_duration_s:.0f} s of audio")
    print(f"synth {args.preset}: median {statistics.median(times):.1f} s over {len(times)} repeats "
          f"(min {min(times):.1f}, max {max(times):.1f}); {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
