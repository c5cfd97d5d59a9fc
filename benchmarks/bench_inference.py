"""Benchmark: two-stage inference latency, throughput and `predict`'s real-time factor.

A two-stage AudioResNet with the default network (`DEFAULT_NET`; weights from one short
epoch on generated clips: speed does not depend on what was learned) is saved as a run
directory and exported to ONNX. In the same process it measures:

- latency of ONE 2 s clip on ONE thread (features + stage 1 + the routed sub-model), median
  and p95 over `--repeats`, for three paths: the straightforward one (per-clip librosa STFT,
  the networks as trained, eager torch), the library's torch path (batched FFT, batch norm
  folded, inference mode) and the library's onnxruntime path; the paths alternate so that
  load on the machine hits them alike, and the ratios are of medians of the same run;
- throughput (clips/s) of `predict` on a batch with all cores, torch and onnxruntime;
- `predict_files` on a one-hour 44.1 kHz recording (noise with a shot every `--shot-every-s`
  seconds): wall time, process CPU time (all threads; less sensitive than wall time to other
  jobs on a shared machine), its parts (decode, shot detection, classification) and the
  real-time factor, for each engine.

    python benchmarks/bench_inference.py [--repeats 100] [--hour-s 3600] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import reference_log_stft  # noqa: E402
from bench_models import synthetic_clips  # noqa: E402
from machine import emit, machine_info  # noqa: E402

from gunshot_bench import __version__  # noqa: E402
from gunshot_bench.checkpoint import write_json  # noqa: E402
from gunshot_bench.export import export_onnx  # noqa: E402
from gunshot_bench.features import SAMPLE_RATE  # noqa: E402
from gunshot_bench.models import get  # noqa: E402
from gunshot_bench.models.audioresnet import DEFAULT_NET  # noqa: E402
from gunshot_bench.predict import load_for_inference, predict_files  # noqa: E402
from gunshot_bench.rng import derive_rng  # noqa: E402
from gunshot_bench.tasks import get_task  # noqa: E402


def make_run(root: Path, channels=DEFAULT_NET["channels"]) -> Path:
    """A saved two-stage run (one epoch on 2 generated clips per model) and its ONNX export."""
    X, y = synthetic_clips(2)
    model = get("audioresnet_two_stage", channels=channels, max_epochs=1).fit(X, y)
    run = root / "run"
    model.save(run / "model")
    write_json(run / "config.json", {
        "model": "audioresnet_two_stage", "task": "two_stage", "seed": 0,
        "label_names": list(get_task("two_stage").label_names), "dataset": {},
        "package_version": __version__, **model.complexity()})
    export_onnx(run)
    return run


def plain_route(model, clip: np.ndarray) -> int:
    """The straightforward path: librosa features, the trained (unfolded) networks, eager torch."""
    F = reference_log_stft(clip)
    with torch.no_grad():
        def proba(clf, F):
            x = (torch.from_numpy(F.astype(np.float32)) - clf.stats_.mean) / clf.stats_.std
            return torch.softmax(clf.net_(x.unsqueeze(1)), 1).numpy()
        cat = model.stage1_.classes_[proba(model.stage1_, F).argmax(1)][0]
        sub = model.stage2_[int(cat)]
        return int(sub.classes_[proba(sub, F).argmax(1)[0]]) if hasattr(sub, "net_") else int(sub.classes_[0])


def latencies(fns: dict, repeats: int, warmup: int = 5) -> dict:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    ts = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            ts[k].append(1000 * (time.perf_counter() - t))
    out = {}
    for k, v in ts.items():
        v.sort()
        out[k] = {"median_ms": round(statistics.median(v), 2),
                  "p95_ms": round(v[int(np.ceil(0.95 * len(v))) - 1], 2), "min_ms": round(v[0], 2)}
    return out


def hour_recording(path: Path, duration_s: float, shot_every_s: float) -> int:
    """Write a 16-bit WAV: faint noise with a decaying burst every `shot_every_s`; returns shots."""
    n_shots = 0
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, "PCM_16") as f:
        block_s = 60
        for b in range(int(np.ceil(duration_s / block_s))):
            rng = derive_rng(0, "bench_hour", b)
            n = int(min(block_s, duration_s - b * block_s) * SAMPLE_RATE)
            x = 0.003 * rng.standard_normal(n)
            for t in np.arange(1.0, n / SAMPLE_RATE - 1.0, shot_every_s):
                k, tail = int(t * SAMPLE_RATE), 8000
                x[k:k + tail] += 0.6 * rng.standard_normal(tail) * np.exp(-np.arange(tail) / 600.0)
                n_shots += 1
            f.write(x.astype(np.float32))
    return n_shots


def time_predict(path: Path, run: Path, engine: str) -> dict:
    """Wall time of `predict_files` on one file, with its parts from cProfile's cumulative times."""
    prof = cProfile.Profile()
    t, cpu = time.perf_counter(), time.process_time()
    prof.enable()
    res = predict_files([path], run_dir=run, engine=engine)[0]
    prof.disable()
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    stats = pstats.Stats(prof, stream=io.StringIO())
    parts = {}
    for (file, _, name), row in stats.stats.items():
        for key, (f, n) in {"decode_s": ("predict.py", "stream_mono"), "detect_s": ("onsets.py", "detect_events"),
                            "classify_s": ("predict.py", "classify_batch")}.items():
            if file.endswith(f) and name == n:
                parts[key] = round(row[3], 1)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "events": len(res.detections), "ok": res.ok, **parts,
            "note": "parts are cProfile cumulative times (profiling adds a few % overhead)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--batch", type=int, default=64, help="clips per throughput call")
    ap.add_argument("--hour-s", type=float, default=3600.0, help="length of the long recording")
    ap.add_argument("--torch-hour-s", type=float, default=600.0,
                    help="length of the recording for the (slower) torch engine; scaled to an hour")
    ap.add_argument("--shot-every-s", type=float, default=10.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cores = torch.get_num_threads()
    result = {"machine": machine_info(), "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp))
        torch.set_num_threads(1)
        plain = load_for_inference(run, "torch").model
        fast = load_for_inference(run, "torch").model
        onnx = load_for_inference(run, "onnx").model
        clip = synthetic_clips(1, seed=5)[0][:1]
        X = synthetic_clips(2, seed=6)[0]
        same = [plain_route(plain, X[i:i + 1]) == fast.predict(X[i:i + 1])[0] == onnx.predict(X[i:i + 1])[0]
                for i in range(len(X))]
        result["paths_agree_on_clips"] = f"{sum(same)}/{len(same)}"
        lat = latencies({"plain_torch": lambda: plain_route(plain, clip),
                         "torch": lambda: fast.predict(clip), "onnx": lambda: onnx.predict(clip)},
                        args.repeats)
        lat["speedup_torch_vs_plain"] = round(lat["plain_torch"]["median_ms"] / lat["torch"]["median_ms"], 2)
        lat["speedup_onnx_vs_plain"] = round(lat["plain_torch"]["median_ms"] / lat["onnx"]["median_ms"], 2)
        lat["speedup_onnx_vs_torch"] = round(lat["torch"]["median_ms"] / lat["onnx"]["median_ms"], 2)
        lat["target_ms"] = 5.0
        result["latency_one_clip_one_thread"] = lat
        print(json.dumps(lat), file=sys.stderr)

        torch.set_num_threads(cores)
        fast_all = load_for_inference(run, "torch").model
        onnx_all = load_for_inference(run, "onnx").model
        B = X[:args.batch]
        thr = latencies({"torch": lambda: fast_all.predict(B), "onnx": lambda: onnx_all.predict(B)},
                        max(3, args.repeats // 20), warmup=1)
        result["throughput_all_cores"] = {
            "threads": cores, "batch": len(B),
            **{k: round(len(B) / (v["median_ms"] / 1000), 1) for k, v in thr.items()}}
        print(json.dumps(result["throughput_all_cores"]), file=sys.stderr)

        rec = {"threads": cores, "shot_every_s": args.shot_every_s}
        for engine, seconds in (("onnx", args.hour_s), ("torch", args.torch_hour_s)):
            wav = Path(tmp) / f"rec_{engine}.wav"
            n_shots = hour_recording(wav, seconds, args.shot_every_s)
            rec[engine] = {"duration_s": seconds, "shots": n_shots, **time_predict(wav, run, engine)}
            rec[engine]["real_time_factor"] = round(rec[engine]["wall_s"] / seconds, 4)
            rec[engine]["s_per_hour"] = round(3600 * rec[engine]["wall_s"] / seconds, 1)
            rec[engine]["cpu_s_per_hour"] = round(3600 * rec[engine]["cpu_s"] / seconds, 1)
            wav.unlink()
            print(engine, json.dumps(rec[engine]), file=sys.stderr)
        rec["target_s_per_hour"] = 60.0
        result["predict_long_recording"] = rec
    emit(result, args.json)


if __name__ == "__main__":
    main()
