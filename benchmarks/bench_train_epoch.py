"""Benchmark: where one epoch of a torch entry's training goes, on a built dataset.

Runs `train.train_run` exactly as the leaderboard does (the entry's baseline file, its
`[augment]` table, the run's fixed thread count), with `max_epochs` set to `--epochs`, and
splits the time (wall and this process's CPU time) into:

- reading: the task's splits and the background pool decoded from the parquet shards;
- clean features: the log-STFT of the clean training and validation clips (once per fit);
- augmentation: `Augmenter` calls (re-drawing the changed clips of every batch);
- epoch features: the log-STFT of the augmented clips, per batch;
- forward/backward: the rest of the fit (batching, standardising, the networks, the optimiser);
- validation: the per-epoch validation pass;
- after training: validation metrics, the onset threshold, saving the run.

Each figure is exclusive (a nested call counts only in the innermost label). CPU time is the
steadier figure on a loaded machine; the load average is printed beside both. The paper
leaderboard's torch cost is then estimated as (fixed part + epochs x epoch part) per run,
for the epochs given by `--typical-epochs` (an ASSUMPTION unless taken from finished runs):

    python benchmarks/bench_train_epoch.py --data DIR --entry audioresnet_flat --task model \
        --epochs 1 [--json out.json]

It measures the `gunshot_bench` that Python imports (the output's `package` says which one): put a
checkout first with `PYTHONPATH=.` to measure that checkout rather than the installed package.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import emit, machine_info  # noqa: E402

import gunshot_bench  # noqa: E402
import gunshot_bench.dataset.read as read  # noqa: E402
from gunshot_bench import train  # noqa: E402
from gunshot_bench.augment import Augmenter  # noqa: E402
from gunshot_bench.models.torch_base import TorchClassifier  # noqa: E402
from gunshot_bench.models.two_stage import TwoStageAudioResNet  # noqa: E402


class Timers:
    """Exclusive wall and CPU seconds per label, with nesting (a child's time leaves its parent)."""

    def __init__(self):
        self.wall, self.cpu, self.calls = defaultdict(float), defaultdict(float), defaultdict(int)
        self._stack: list[list[float]] = []

    @contextmanager
    def __call__(self, label: str):
        frame = [0.0, 0.0]  # children's wall, cpu
        self._stack.append(frame)
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            dw, dc = time.perf_counter() - w, time.process_time() - c
            self._stack.pop()
            self.wall[label] += dw - frame[0]
            self.cpu[label] += dc - frame[1]
            self.calls[label] += 1
            if self._stack:
                self._stack[-1][0] += dw
                self._stack[-1][1] += dc

    def wrap(self, fn, label):
        # functools.wraps keeps the signature visible: train_run inspects `fit` for `augmenter`
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self(label if not callable(label) else label()):
                return fn(*args, **kwargs)
        return wrapped


@contextmanager
def instrumented(timers: Timers):
    """Wrap the functions of the training path with timers for the block (restored after)."""
    in_epoch = [False]
    patches = [
        (train, "load_task_split", timers.wrap(train.load_task_split, "reading")),
        (read, "load_arrays", timers.wrap(read.load_arrays, "reading")),
        (Augmenter, "__call__", timers.wrap(Augmenter.__call__, "augmentation")),
        (TorchClassifier, "_evaluate", timers.wrap(TorchClassifier._evaluate, "validation")),
        # what the fits do besides the labelled parts: batching, standardising, the networks
        (TorchClassifier, "fit", timers.wrap(TorchClassifier.fit, "forward/backward")),
        (TwoStageAudioResNet, "fit", timers.wrap(TwoStageAudioResNet.fit, "forward/backward")),
        (train, "_validation_metrics", timers.wrap(train._validation_metrics, "after training")),
    ]
    orig_epoch = TorchClassifier._epoch_features
    orig_features = TorchClassifier.__dict__["features"]

    def epoch_features(self, *args, **kwargs):
        in_epoch[0] = True
        try:
            return orig_epoch(self, *args, **kwargs)
        finally:
            in_epoch[0] = False

    features = timers.wrap(orig_features.__func__,
                           lambda: "epoch features" if in_epoch[0] else "clean features")
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, fn in patches:
            setattr(obj, name, fn)
        TorchClassifier._epoch_features = epoch_features
        TorchClassifier.features = staticmethod(features)
        yield
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)
        TorchClassifier._epoch_features = orig_epoch
        TorchClassifier.features = orig_features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a built dataset folder (read only)")
    ap.add_argument("--entry", default="audioresnet_flat")
    ap.add_argument("--task", default="model")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--protocol", default="grouped")
    ap.add_argument("--profile", default=None, help="baseline profile (e.g. small); default: none (paper)")
    ap.add_argument("--typical-epochs", type=float, default=30.0,
                    help="epochs per network of a typical run, for the leaderboard estimate")
    ap.add_argument("--runs", type=int, default=6, help="runs of this (entry, task) in a leaderboard "
                    "(3 seeds x 2 protocols by default)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    spec = train.load_baseline(args.entry, args.profile)
    overrides = {**spec["overrides"], "max_epochs": args.epochs}
    timers = Timers()
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-train-epoch-") as out, instrumented(timers):
        with timers("total"):
            run = train.train_run(args.data, spec["model"], args.task, args.seed, Path(out) / "run",
                                  overrides=overrides, progress=False, protocol=args.protocol)
        n_train = json.loads((run.out_dir / "config.json").read_text())["n_train"]
    stages = ["reading", "clean features", "augmentation", "epoch features", "forward/backward",
              "validation", "after training", "total"]
    split = {s: {"wall_s": round(timers.wall[s], 2), "cpu_s": round(timers.cpu[s], 2)} for s in stages}
    # "total" keeps only what no other label took: saving, plots, model building, ...
    split["other"] = split.pop("total")
    per_epoch = ("augmentation", "epoch features", "forward/backward", "validation")
    epoch_cpu = sum(timers.cpu[s] for s in per_epoch) / args.epochs
    epoch_wall = sum(timers.wall[s] for s in per_epoch) / args.epochs
    fixed_cpu = sum(timers.cpu[s] for s in ("reading", "clean features", "after training", "total"))
    networks = len(run.model.history_) if isinstance(run.model.history_, dict) else 1
    result = {
        "benchmark": "train_epoch", "machine": info, "load_average_after": machine_info()["load_average_1_5_15"],
        "package": str(Path(gunshot_bench.__file__).parent),
        "entry": args.entry, "task": args.task, "protocol": args.protocol, "seed": args.seed,
        "epochs": args.epochs, "n_train": n_train, "split": split,
        "epoch_cpu_s": round(epoch_cpu, 1), "epoch_wall_s": round(epoch_wall, 1),
        "fixed_cpu_s": round(fixed_cpu, 1), "networks": networks,
        "estimate": {
            "assumed_epochs_per_run": args.typical_epochs, "runs": args.runs,
            "cpu_min_per_run": round((fixed_cpu + args.typical_epochs * epoch_cpu) / 60, 1),
            "cpu_min_all_runs": round(args.runs * (fixed_cpu + args.typical_epochs * epoch_cpu) / 60, 1),
            "note": "ESTIMATE: one measured epoch x assumed epochs; a two-stage run's 'epoch' here is "
                    "every network's epoch together"},
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
