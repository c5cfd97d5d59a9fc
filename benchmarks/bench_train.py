"""Benchmark: AudioResNet training throughput, time per epoch, and the two-stage protocol's wall time.

Two training paths run in the same process on the same generated clips and seeds:

- "fast" (the library): log-STFT computed once per fit and held in float16, channels-last
  network (AudioResNet picks it for widths that are multiples of 16), bfloat16 autocast of the
  forward pass where the CPU has native bfloat16, torch's threads = cores;
- "plain": the straightforward float32 loop: float32 features, NCHW network, float32 forward
  pass, same optimiser, schedule, batches and seeds.

Figures: training samples/s of each path (median over `--repeats` fits of `--epochs` epochs
of a flat 32-way AudioResNet with the `paper` network), evaluation samples/s, and from them
the time of one two-stage epoch and of the full study-A protocol (60 epochs at most, stage 1
and the sub-models each see every training clip once per epoch) on the `paper` preset's
2,340 training / 502 validation clips: an EXTRAPOLATION from the measured throughput, said
so in the output. Then a bounded two-stage training (`--f1-epochs`) with both paths on the
same seeds, and the macro-F1 of each on held-out generated clips.

    python benchmarks/bench_train.py [--train-clips 256] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import synthetic_clips  # noqa: E402
from machine import emit, machine_info  # noqa: E402

from gunshot_bench.features import log_stft  # noqa: E402
from gunshot_bench.models import get  # noqa: E402
from gunshot_bench.models.audioresnet import AudioResNetClassifier  # noqa: E402
from gunshot_bench.models import torch_base  # noqa: E402
from gunshot_bench.models.torch_base import TorchClassifier  # noqa: E402

PAPER_CLIPS = 3343
PAPER_TRAIN, PAPER_VAL = round(0.7 * PAPER_CLIPS), round(0.15 * PAPER_CLIPS)
MAX_EPOCHS = 60


@contextlib.contextmanager
def plain_path():
    """Swap in float32 features, NCHW networks and a float32 forward pass (the straightforward
    loop) for the block."""
    build, feats, amp = AudioResNetClassifier._build_net, TorchClassifier.features, torch_base.autocast_dtype

    def nchw(self, n_classes):
        net = build(self, n_classes)
        net.channels_last = False
        return net.to(memory_format=torch.contiguous_format)

    AudioResNetClassifier._build_net = nchw
    TorchClassifier.features = staticmethod(lambda X: log_stft(X, dtype=np.float32))
    torch_base.autocast_dtype = lambda precision: None
    try:
        yield
    finally:
        AudioResNetClassifier._build_net, TorchClassifier.features = build, feats
        torch_base.autocast_dtype = amp


def learnable_clips(n_per_model: int, seed: int, models=None) -> tuple[np.ndarray, np.ndarray]:
    """Clips a network can learn in a few epochs: model m's shot is a decaying tone at its own
    frequency (200 Hz * 1.12^m) in noise, at a random onset and level."""
    from gunshot_bench.features import CLIP_SAMPLES, SAMPLE_RATE
    from gunshot_bench.rng import derive_rng
    from gunshot_bench.taxonomy import MODELS

    y = np.repeat(np.arange(len(MODELS)) if models is None else np.asarray(models), n_per_model)
    X = np.zeros((len(y), CLIP_SAMPLES), np.float32)
    t = np.arange(20_000) / SAMPLE_RATE
    for i, m in enumerate(y):
        rng = derive_rng(seed, "bench_train", i)
        X[i] = 0.01 * rng.standard_normal(CLIP_SAMPLES)
        k = int(rng.integers(0, CLIP_SAMPLES - len(t)))
        tone = np.sin(2 * np.pi * 200 * 1.12 ** m * t + rng.uniform(0, 2 * np.pi))
        X[i, k:k + len(t)] += rng.uniform(0.2, 0.6) * tone * np.exp(-t / 0.1)
    return X, y


def train_throughput(F, y, channels, epochs, repeats) -> tuple[float, float]:
    """(training samples/s, evaluation samples/s), medians over `repeats` fits."""
    fit_s, eval_s = [], []
    for r in range(repeats):
        clf = get("audioresnet_flat", channels=channels, max_epochs=epochs, random_state=r)
        t = time.perf_counter()
        clf.fit_features(F, y)
        fit_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        clf._evaluate(F, np.searchsorted(clf.classes_, y), torch.nn.CrossEntropyLoss())
        eval_s.append(time.perf_counter() - t)
    return epochs * len(F) / statistics.median(fit_s), len(F) / statistics.median(eval_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-clips", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per timed fit")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--channels", default="16,32,64,128")
    ap.add_argument("--f1-epochs", type=int, default=8, help="epochs of the bounded two-stage F1 comparison")
    ap.add_argument("--f1-clips-per-model", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=2, help="seeds of the F1 comparison")
    ap.add_argument("--f1-models", default="0,1,3,4,16,17,24,25",
                    help="model ids of the F1 comparison (two per category keeps it learnable in minutes)")
    ap.add_argument("--f1-batch-size", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    channels = tuple(int(c) for c in args.channels.split(","))
    result = {"machine": machine_info(), "channels": channels, "repeats": args.repeats}
    X, y = synthetic_clips(max(1, args.train_clips // 32), seed=1)
    t = time.perf_counter()
    F16 = log_stft(X, dtype=np.float16)
    feature_s_per_clip = (time.perf_counter() - t) / len(X)
    F32 = F16.astype(np.float32)
    rows = {}
    for name, ctx, F in (("plain", plain_path, F32), ("fast", contextlib.nullcontext, F16)):
        with ctx():
            sps, eps = train_throughput(F, y, channels, args.epochs, args.repeats)
        # a two-stage epoch: stage 1 and the sub-models each train on every clip once and
        # evaluate every validation clip once
        epoch_s = 2 * PAPER_TRAIN / sps + 2 * PAPER_VAL / eps
        rows[name] = {"train_samples_per_s": round(sps, 1), "eval_samples_per_s": round(eps, 1),
                      "paper_two_stage_epoch_s": round(epoch_s, 1),
                      "paper_two_stage_60_epochs_min": round(
                          (MAX_EPOCHS * epoch_s + PAPER_CLIPS * feature_s_per_clip) / 60, 1)}
        print(name, rows[name], file=sys.stderr)
    rows["speedup_fast_vs_plain"] = round(rows["fast"]["train_samples_per_s"] / rows["plain"]["train_samples_per_s"], 2)
    rows["extrapolated"] = (f"EXTRAPOLATED from {len(X)}-clip fits of {args.epochs} epoch(s): "
                            f"{PAPER_TRAIN} train + {PAPER_VAL} validation clips, {MAX_EPOCHS} epochs "
                            f"(the upper bound: early stopping usually ends sooner), plus the features "
                            f"of {PAPER_CLIPS} clips at {1000 * feature_s_per_clip:.1f} ms each")
    rows["target_min"] = 20.0
    result["training"] = rows

    models = [int(m) for m in args.f1_models.split(",")] if args.f1_models != "all" else None
    Xtr, ytr = learnable_clips(args.f1_clips_per_model, seed=11, models=models)
    Xte, yte = learnable_clips(max(2, args.f1_clips_per_model // 2), seed=12, models=models)
    f1 = {"epochs": args.f1_epochs, "train_clips": len(ytr), "test_clips": len(yte),
          "models": args.f1_models, "batch_size": args.f1_batch_size}
    for name, ctx in (("plain", plain_path), ("fast", contextlib.nullcontext)):
        scores, walls = [], []
        for seed in range(args.seeds):
            with ctx():
                t = time.perf_counter()
                m = get("audioresnet_two_stage", channels=channels, max_epochs=args.f1_epochs,
                        batch_size=args.f1_batch_size, random_state=seed).fit(Xtr, ytr)
                walls.append(time.perf_counter() - t)
            scores.append(f1_score(yte, m.predict(Xte), average="macro"))
        f1[name] = {"macro_f1_per_seed": [round(s, 4) for s in scores],
                    "macro_f1_mean": round(float(np.mean(scores)), 4),
                    "two_stage_fit_s_median": round(statistics.median(walls), 1)}
        print(name, f1[name], file=sys.stderr)
    f1["fit_speedup_fast_vs_plain"] = round(f1["plain"]["two_stage_fit_s_median"]
                                            / f1["fast"]["two_stage_fit_s_median"], 2)
    result["macro_f1_bounded_two_stage"] = f1
    emit(result, args.json)


if __name__ == "__main__":
    main()
