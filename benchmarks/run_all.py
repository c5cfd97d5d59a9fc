"""Run every benchmark and write `benchmarks/results.json` and `docs/performance.md`.

    python benchmarks/run_all.py            # the full suite (about 3 hours on 2 cores; the
                                            # `paper` training and leaderboard are most of it)
    python benchmarks/run_all.py --quick    # smaller sizes and fewer repeats (minutes)
    python benchmarks/run_all.py --parts features,inference   # rerun some parts, keep the others

Each part is one `bench_*.py` script run in its own process (so one part's memory or threads
never leak into the next); it writes its JSON with the machine and load average at its start.
Parts not rerun keep their previous figures from `results.json` (each stamped with its time).
The page is rendered from `results.json`, keeping the page's hand-written sections
(`render_performance.HANDWRITTEN`; `--render-only` re-renders it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from machine import machine_info  # noqa: E402
from render_performance import render  # noqa: E402

PAPER_CLIPS = 3343


def plan(quick: bool) -> dict[str, list[str]]:
    """{part name: script arguments} of the full or the quick suite."""
    if quick:
        return {
            "features": ["bench_features.py", "--clips", "16", "--repeats", "3"],
            "inference": ["bench_inference.py", "--repeats", "20", "--hour-s", "300", "--torch-hour-s", "120"],
            "training": ["bench_train.py", "--train-clips", "64", "--repeats", "1", "--f1-epochs", "2",
                         "--f1-clips-per-model", "3", "--seeds", "1"],
            "build_1x": ["bench_build.py", "--clips", "300", "--repeats", "2"],
            "build_4x": ["bench_build.py", "--clips", "1200", "--repeats", "1"],
            "build_16x": ["bench_build.py", "--clips", "4800", "--repeats", "1"],
            "leaderboard_tiny": ["bench_leaderboard.py", "--preset", "tiny"],
            "predict_long": ["bench_predict_long.py", "--durations-s", "60,360"],
        }
    return {
        "features": ["bench_features.py", "--clips", "64", "--repeats", "5"],
        "inference": ["bench_inference.py", "--repeats", "100", "--hour-s", "3600", "--torch-hour-s", "600"],
        "training": ["bench_train.py", "--train-clips", "256", "--repeats", "3", "--f1-epochs", "8",
                     "--f1-clips-per-model", "8", "--seeds", "2"],
        "build_1x": ["bench_build.py", "--clips", str(PAPER_CLIPS), "--repeats", "3"],
        "build_4x": ["bench_build.py", "--clips", str(4 * PAPER_CLIPS), "--repeats", "2"],
        "build_16x": ["bench_build.py", "--clips", str(16 * PAPER_CLIPS), "--repeats", "1"],
        "training_paper": ["bench_train_paper.py", "--seeds", "0", "--paths", "fast,plain"],
        "leaderboard_small": ["bench_leaderboard.py", "--preset", "small"],
        "leaderboard_paper": ["bench_leaderboard.py", "--preset", "paper"],
        "predict_long": ["bench_predict_long.py", "--durations-s", "600,3600"],
        "predict_long_torch": ["bench_predict_long.py", "--durations-s", "600,3600", "--engine", "torch"],
        "embedding": ["bench_embedding.py", "--clips", "16", "--repeats", "3"],
    }


def run_part(name: str, argv: list[str], scratch: Path) -> dict:
    out = scratch / f"{name}.json"
    cmd = [sys.executable, str(HERE / argv[0]), *argv[1:], "--json", str(out)]
    if argv[0] in ("bench_build.py", "bench_leaderboard.py", "bench_train_paper.py"):
        cmd += ["--tmp" if argv[0] == "bench_build.py" else "--workdir", str(scratch)]
    print(f"== {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.DEVNULL)
    if proc.returncode != 0:
        return {"error": f"exit code {proc.returncode}", "command": " ".join(["python", *cmd[1:-2]])}
    data = json.loads(out.read_text())
    data["command"] = "python benchmarks/" + " ".join(argv)
    data["part_wall_s"] = round(time.perf_counter() - t, 1)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    ap.add_argument("--parts", default="all", help="comma-separated parts to (re)run, or 'all'")
    ap.add_argument("--results", type=Path, default=HERE / "results.json")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    ap.add_argument("--render-only", action="store_true", help="re-render the page from results.json")
    ap.add_argument("--import", dest="imports", action="append", default=[], metavar="PART=JSON",
                    help="take a part's figures from the JSON its script wrote when run by hand "
                         "(e.g. the hours-long `paper` leaderboard run with --keep)")
    args = ap.parse_args()
    suite = plan(args.quick)
    results = json.loads(args.results.read_text()) if args.results.is_file() else {"parts": {}}
    if not args.render_only:
        names = list(suite) if args.parts == "all" else args.parts.split(",")
        unknown = sorted(set(names) - set(suite))
        if unknown:
            sys.exit(f"run_all: unknown part(s) {unknown}; known: {', '.join(suite)}")
        results["machine_at_start"] = machine_info()
        results["suite"] = "quick" if args.quick else "full"
        results["expected_parts"] = list(suite)
        with tempfile.TemporaryDirectory(prefix="gunshot_bench_perf_") as scratch:
            for name in names:
                results["parts"][name] = run_part(name, suite[name], Path(scratch))
                args.results.write_text(json.dumps(results, indent=1) + "\n")
    for spec in args.imports:
        name, _, path = spec.partition("=")
        if name not in suite or not Path(path).is_file():
            sys.exit(f"run_all: --import wants PART=JSON with a known part and an existing file, got {spec!r}")
        data = json.loads(Path(path).read_text())
        results["parts"][name] = data
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    args.doc.write_text(render(results, args.doc.read_text() if args.doc.is_file() else None))
    print(f"wrote {args.results} and {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
