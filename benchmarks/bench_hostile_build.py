"""Benchmark: a build over hostile and huge files stays under 1 GB and accounts for every file.

Generates, under `--dir` (default /tmp/hard16/hostile; never in the repository), a `folder`
corpus holding:
- a 264 KB WAV whose header claims a 1 Hz sample rate (grew one worker to 19.6 GB before);
- a 10-hour mono 8 kHz WAV (576 MB; aborted the build with MemoryError before);
- a 2-hour mono 44.1 kHz WAV (635 MB; peaked at 3.5 GB before);
- `--good` ordinary 3 s clips.
Then runs `build_dataset` (clean + background, no variants) in a fresh process and samples
the resident memory of that process and all its children every 50 ms from /proc: the sum
over the process tree is the whole build's peak, the largest single process the worker's
peak. It also prints the build report's own figures and checks that every generated file is
in the report exactly once.

    python benchmarks/bench_hostile_build.py [--dir /tmp/hard16/hostile] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from gunshot_bench.rng import derive_rng

LIMIT_MB = 1024


def write_long(path: Path, sample_rate: int, duration_s: float, seed: str) -> None:
    """A long noise-floor recording with a shot every ~3 s, written a minute at a time."""
    block = 60 * sample_rate
    tail = (np.exp(-np.arange(sample_rate // 5) / (0.03 * sample_rate)) * 0.5).astype(np.float32)
    with sf.SoundFile(str(path), "w", sample_rate, 1, subtype="PCM_16") as f:
        for i in range(int(round(duration_s * sample_rate)) // block):
            rng = derive_rng(0, "bench_hostile", seed, i)
            x = rng.standard_normal(block, dtype=np.float32) * 1e-3
            for t in range(0, block - tail.size, 3 * sample_rate):
                x[t:t + tail.size] += rng.standard_normal(tail.size, dtype=np.float32) * tail
            f.write(x)


def write_1hz(path: Path, payload_bytes: int = 264_000) -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, 1, 2, 2, 16)
    data = derive_rng(0, "bench_hostile", "1hz").integers(-3000, 3000, payload_bytes // 2, dtype=np.int16).tobytes()
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)


def make_corpus(root: Path, n_good: int) -> list[str]:
    (root / "AK-47").mkdir(parents=True, exist_ok=True)
    (root / "glock_17").mkdir(parents=True, exist_ok=True)
    write_1hz(root / "AK-47" / "one_hertz_header.wav")
    write_long(root / "AK-47" / "ten_hours_8k.wav", 8_000, 10 * 3600, "10h")
    write_long(root / "AK-47" / "two_hours_44k.wav", 44_100, 2 * 3600, "2h")
    for i in range(n_good):
        write_long(root / "glock_17" / f"good{i}.wav", 44_100, 60, f"good{i}")  # 60 s: 30 segments
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _tree_rss_kb(pid: int) -> dict[int, int]:
    """VmRSS (KiB) of `pid` and every descendant, read from /proc."""
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            out[p] = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return out


CHILD = """
import json, sys, time
from gunshot_bench.dataset.build import BuildConfig, build_dataset
t = time.perf_counter()
s = build_dataset(BuildConfig(sources=(("folder", sys.argv[1]),), out_dir=sys.argv[2], workers=int(sys.argv[3]),
                              overwrite=True), progress=False)
print(json.dumps({"wall_s": time.perf_counter() - t, "line": s.line()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/hard16/hostile")
    parser.add_argument("--good", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    base = Path(args.dir)
    corpus, out = base / "corpus", base / "dataset"
    if corpus.exists():
        shutil.rmtree(corpus)
    t = time.perf_counter()
    files = make_corpus(corpus, args.good)
    gen_s = time.perf_counter() - t
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(corpus), str(out), str(args.workers)],
                            stdout=subprocess.PIPE, text=True)
    peak = {"tree_kb": 0, "process_kb": 0}

    def sample() -> None:
        while proc.poll() is None:
            rss = _tree_rss_kb(proc.pid)
            peak["tree_kb"] = max(peak["tree_kb"], sum(rss.values()))
            peak["process_kb"] = max(peak["process_kb"], max(rss.values(), default=0))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"build failed with exit code {proc.returncode}")
    child = json.loads(stdout.strip().splitlines()[-1])
    report = json.loads((out / "build_report.json").read_text())
    entries = {e["rel_path"]: e for e in report["files"]}
    result = {
        "generate_s": round(gen_s, 1),
        "build_wall_s": round(child["wall_s"], 1),
        "sampled_build_peak_rss_mb": round(peak["tree_kb"] / 1024, 1),
        "sampled_largest_process_peak_rss_mb": round(peak["process_kb"] / 1024, 1),
        "report_memory": report["memory"],
        "files_generated": len(files),
        "files_in_report": len(entries),
        "every_file_accounted_for": sorted(entries) == files,
        "outcomes": {rel: (e["status"], e.get("segments", 0), e.get("reason", "")) for rel, e in entries.items()
                     if not rel.startswith("glock_17/")},
        "summary_line": child["line"],
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    ok = result["every_file_accounted_for"] and result["sampled_build_peak_rss_mb"] < LIMIT_MB
    print(f"{'PASS' if ok else 'FAIL'}: whole-build peak {result['sampled_build_peak_rss_mb']} MiB "
          f"(limit {LIMIT_MB}), {len(entries)}/{len(files)} files in the report")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
