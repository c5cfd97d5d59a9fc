"""Benchmark: how the build and training scale (issue 14): memory flat with the corpus, Ray speed-up.

Measures, each in a fresh process:
- build: the main process's peak RSS (and wall time) at `--factors` times `--base-clips`
  generated 2 s clips (the `folder` corpus of bench_build.py; clean + background, no
  variants). Flat means the largest factor's peak <= 1.2 x the smallest's;
- training: the peak RSS of `train` (cnn, category task, `--epochs`) on the datasets of the two
  smallest factors, in memory and with `--stream`, and whether both give the same model;
- `--ray-build`: the build's decode stage on a local Ray of 1 and 2 CPUs against the local
  engine (wall time, byte-identical output);
- `--ray-leaderboard`: the `small` leaderboard with the local engine and on a local Ray of 1 and
  2 CPUs, only when `run --engine` exists (the evaluation engine, a separate change).
The machine may be shared: run it niced, and read the load average it records.

    nice -n 15 python benchmarks/bench_scale.py --base-clips 500 --factors 1,4,16 [--ray-build] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILD = """
import json, resource, sys, time
from gunshot_bench.dataset.build import BuildConfig, build_dataset
engine, workers = sys.argv[3], int(sys.argv[4])
if engine == "ray":
    import ray
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
t = time.perf_counter()
s = build_dataset(BuildConfig(sources=(("folder", sys.argv[1]),), out_dir=sys.argv[2], workers=workers,
                              engine=engine), progress=False)
print(json.dumps({"wall_s": time.perf_counter() - t, "peak_rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": sum(sum(v.values()) for v in s.segments.values())}))
"""

TRAIN = """
import hashlib, json, resource, sys, time, torch
from gunshot_bench.train import train_run
t = time.perf_counter()
r = train_run(sys.argv[1], "cnn", "category", 0, sys.argv[2], {"max_epochs": int(sys.argv[3])}, progress=False,
              stream=sys.argv[4] == "stream")
digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in r.model.net_.state_dict().values())).hexdigest()
print(json.dumps({"wall_s": time.perf_counter() - t, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "weights_sha256": digest}))
"""


def _child(code: str, *args: str, cwd: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _digest_tree(root: Path) -> str:
    """sha256 over every file of a built dataset, build_report.json without its memory figures."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name == "build_report.json":
            report = json.loads(data)
            report.pop("memory", None)
            data = json.dumps(report, sort_keys=True).encode()
        h.update(path.relative_to(root).as_posix().encode() + data)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-clips", type=int, default=500)
    ap.add_argument("--factors", default="1,4,16")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--ray-build", action="store_true")
    ap.add_argument("--no-train", action="store_true", help="skip the training measurements")
    ap.add_argument("--ray-leaderboard", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--tmp", type=Path, default=None)
    args = ap.parse_args()
    here = Path(__file__).resolve().parent
    repo = here.parent
    sys.path.insert(0, str(here))
    from bench_build import make_corpus
    from machine import emit, machine_info

    factors = [int(f) for f in args.factors.split(",")]
    result = {"machine": machine_info(), "load_average_start": os.getloadavg(), "base_clips": args.base_clips,
              "workers": args.workers, "build": [], "train": [], "ray_build": [], "ray_leaderboard": None}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        for f in factors:
            n = f * args.base_clips
            corpus, ds = tmp / f"corpus{f}", tmp / f"ds{f}"
            make_corpus(corpus, n)
            run = _child(BUILD, str(corpus), str(ds), "local", str(args.workers), cwd=repo)
            run.update(factor=f, clips=n, load_average=os.getloadavg()[0])
            result["build"].append(run)
            print("build", run, file=sys.stderr, flush=True)
            if args.ray_build and f == factors[0]:
                local = _digest_tree(ds)
                for cpus in (1, 2):
                    out = tmp / f"ray{cpus}"
                    r = _child(BUILD, str(corpus), str(out), "ray", str(cpus), cwd=repo)
                    r.update(cpus=cpus, clips=n, identical_to_local=_digest_tree(out) == local,
                             local_wall_s=run["wall_s"], load_average=os.getloadavg()[0])
                    result["ray_build"].append(r)
                    print("ray build", r, file=sys.stderr, flush=True)
                    shutil.rmtree(out)
            shutil.rmtree(corpus)
            if f in factors[:2] and not args.no_train:
                for mode in ("memory", "stream"):
                    t = _child(TRAIN, str(ds), str(tmp / f"run{f}{mode}"), str(args.epochs), mode, cwd=repo)
                    t.update(factor=f, clips=n, mode=mode, load_average=os.getloadavg()[0])
                    result["train"].append(t)
                    print("train", t, file=sys.stderr, flush=True)
            shutil.rmtree(ds)
    b = result["build"]
    result["build_rss_ratio_largest_to_smallest"] = round(b[-1]["peak_rss_main_mb"] / b[0]["peak_rss_main_mb"], 3)
    for mode in ("memory", "stream"):
        runs = [t for t in result["train"] if t["mode"] == mode]
        if len(runs) == 2:
            result[f"train_rss_ratio_{mode}"] = round(runs[1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3)
    result["train_identical"] = all(
        len({t["weights_sha256"] for t in result["train"] if t["factor"] == f}) == 1 for f in factors[:2])
    if args.ray_leaderboard:
        help_text = subprocess.run([sys.executable, "-m", "gunshot_bench.cli", "run", "--help"], capture_output=True,
                                   text=True, cwd=repo).stdout
        result["ray_leaderboard"] = ("skipped: `run --engine` does not exist in this checkout" if "--engine" not in help_text
                                     else "not automated here: run `gunshot-bench run --preset small --engine ray` "
                                          "on a local Ray of 1 and 2 CPUs (docs/scaling.md)")
    result["load_average_end"] = os.getloadavg()
    emit(result, args.json)


if __name__ == "__main__":
    main()
