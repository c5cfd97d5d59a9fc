"""Benchmark (issue 14): the `small` leaderboard with the local engine and on a local Ray of 1 and 2 CPUs.

Same dataset, entries (every non-aiSFX entry), seed 0 and the grouped protocol each time, into
fresh folders under OUT; prints the wall time of each and whether every result file equals the
local engine's apart from timings and dates. Speed-up = Ray 1 CPU wall / Ray 2 CPUs wall.

    python benchmarks/bench_ray_leaderboard.py DATA OUT     # DATA: a built `small` dataset
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from gunshot_bench.evaluation.engine import make_engine
from gunshot_bench.protocols.leaderboard import run_leaderboard

MODELS = ["svm", "gmm", "lda", "hmm", "cnn", "audioresnet_flat", "audioresnet_two_stage"]
IGNORED = ("time", "date")  # fields that legitimately differ between runs


def _clean(obj, root: Path):
    if isinstance(obj, dict):
        return {k: _clean(v, root) for k, v in obj.items() if not any(t in k for t in IGNORED)}
    if isinstance(obj, list):
        return [_clean(v, root) for v in obj]
    return obj.replace(str(root), "<OUT>") if isinstance(obj, str) else obj


def _results(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): _clean(json.loads(p.read_text()), root.parent)
            for p in sorted(root.rglob("*.json"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a built `small` dataset (e.g. runs/small/data)")
    ap.add_argument("out", type=Path, help="a new folder for the three leaderboards")
    args = ap.parse_args()
    data, out = args.data, args.out
    rows = []
    for name, kw in [("local", {"workers": 2}), ("ray1", {"ray_cpus": 1}), ("ray2", {"ray_cpus": 2})]:
        load, start = os.getloadavg()[0], time.perf_counter()
        with make_engine("local" if name == "local" else "ray", **kw) as engine:
            run_leaderboard(data, models=MODELS, seeds=1, out_dir=out / name / "leaderboard", profile="small",
                            preset="small", runs_dir=out / name / "runs", progress=False, render=False,
                            engine=engine, protocols=("grouped",))
        rows.append({"engine": name, "wall_s": round(time.perf_counter() - start, 1), "load_at_start": round(load, 2)})
        print(rows[-1], flush=True)
    reference = _results(out / "local" / "leaderboard" / "results")
    for row in rows[1:]:
        row["identical_to_local"] = _results(out / row["engine"] / "leaderboard" / "results") == reference
    print(json.dumps({"runs": rows, "result_files": len(reference),
                      "ray_speedup_2_vs_1_cpu": round(rows[1]["wall_s"] / rows[2]["wall_s"], 2)}, indent=1))


if __name__ == "__main__":
    main()
