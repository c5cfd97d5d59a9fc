"""Benchmark: peak memory of the leaderboard's main process while it loads what the reference
rows and the scorings read, for one task under both split protocols.

The reference rows (chance, majority, stratified, oracle) need the training split's labels and
the test set; `--how frame` reads the labels as `score_references` does now (nothing decoded,
`DataCache.protocol_frame`), `--how arrays` as it did before (the training split decoded,
`DataCache.protocol_arrays`, the only way the older code had); `--how split` decodes the task's
training split alone (`dataset.read.load_arrays`, what every training reads). Run each in its own process:
the figure is that process's peak resident memory (`ru_maxrss`).

    python benchmarks/bench_reference_memory.py --data PAPER_DATA --task detection --how frame
    python benchmarks/bench_reference_memory.py --data PAPER_DATA --task detection --how arrays

Run it from the checkout to measure (e.g. `PYTHONPATH=/path/to/old-checkout` for "before").
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from gunshot_bench.dataset.read import load_arrays
from gunshot_bench.evaluation.scoring import data_cache
from gunshot_bench.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a built dataset folder")
    parser.add_argument("--task", default="detection")
    parser.add_argument("--how", choices=("frame", "arrays", "split"), default="frame")
    args = parser.parse_args()
    task, cache = get_task(args.task), data_cache(args.data)
    start = time.perf_counter()
    rows = {}
    if args.how == "split":
        X, _ = load_arrays(args.data, task.config, "train")
        rows["grouped"] = {"train_rows": len(X), "train_gib": round(X.nbytes / 2**30, 2)}
    else:
        for protocol in ("grouped", "segment"):
            if args.how == "frame":
                train = cache.protocol_frame(task.config, "train", protocol)
            else:  # the older path: no protocol_frame, so the training split was decoded
                _, train = cache.protocol_arrays(task.config, "train", protocol)
            test = cache.test_set(task, protocol=protocol)
            rows[protocol] = {"train_rows": len(train), "test_clips": len(test.y)}
    print(json.dumps({"task": args.task, "how": args.how, "rows": rows,
                      "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
                      "wall_s": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
