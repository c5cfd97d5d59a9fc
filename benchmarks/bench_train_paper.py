"""Benchmark: the full study-A two-stage protocol on the `paper` preset, fast path vs plain loop.

Trains `baselines/audioresnet_two_stage.toml` (study A's protocol: at most 60 epochs per
network, early stopping after 15 without validation-accuracy gain) on the `paper` preset's
dataset, for each seed, once with the library's training path and once with the
straightforward float32 loop (float32 features, NCHW network, no bfloat16 autocast; see
`bench_train.plain_path`). Reports per run: wall time (training, features included), epochs
run per network, parameters and FLOPs per clip, and test-split accuracy, macro-F1 and
stage-1 (category) accuracy, so the speed-up is shown not to cost accuracy.

    python benchmarks/bench_train_paper.py [--data DIR] [--seeds 0] [--paths fast,plain]

Without `--data`, the `paper` corpus and dataset are generated into `--workdir` first (about
4 minutes; reused when present).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import plain_path  # noqa: E402
from machine import emit, machine_info  # noqa: E402

from gunshot_bench.models.two_stage import MODEL_CATEGORY  # noqa: E402
from gunshot_bench.tasks import get_task  # noqa: E402
from gunshot_bench.train import load_baseline, load_task_split, train_run  # noqa: E402

TARGET_MIN = 20.0


def paper_dataset(workdir: Path) -> Path:
    from gunshot_bench.pipeline import MainJobConfig, build_corpus_dataset

    return build_corpus_dataset(MainJobConfig(preset="paper", out_dir=str(workdir), progress=True))


def one_run(data: Path, seed: int, path: str, out: Path, Xt, yt) -> dict:
    overrides = load_baseline("audioresnet_two_stage")["overrides"]
    # plain_path alone switches off every fast path (float16 features, channels-last, bf16)
    with plain_path() if path == "plain" else contextlib.nullcontext():
        t = time.perf_counter()
        run = train_run(data, "audioresnet_two_stage", "two_stage", seed, out / f"{path}_seed{seed}",
                        overrides=overrides, progress=True)
        wall = time.perf_counter() - t
    model = run.model
    pred = model.predict(Xt)
    cat_pred = model.predict_category(Xt) if hasattr(model, "predict_category") else MODEL_CATEGORY[pred]
    return {"path": path, "seed": seed, "wall_min": round(wall / 60, 2),
            "epochs_per_network": {k: len(v) for k, v in model.history_.items()},
            "params": run.n_params, "flops_per_clip": run.flops_per_clip,
            "test_accuracy": round(float(accuracy_score(yt, pred)), 4),
            "test_macro_f1": round(float(f1_score(yt, pred, average="macro", zero_division=0)), 4),
            "test_category_accuracy": round(float(np.mean(MODEL_CATEGORY[yt] == cat_pred)), 4),
            "n_test": int(len(yt))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="a built `paper` dataset (default: generate one)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to generate the dataset and runs")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds")
    ap.add_argument("--paths", default="fast,plain", help="fast (the library), plain (float32 loop)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    result = {"machine": machine_info(), "baseline": "baselines/audioresnet_two_stage.toml",
              "target_min": TARGET_MIN}
    with tempfile.TemporaryDirectory(prefix="gunshot_bench_train_paper_") as scratch:
        work = args.workdir or Path(scratch)
        data = args.data or paper_dataset(work / "paper")
        task = get_task("two_stage")
        Xt, yt, _ = load_task_split(data, task, "test")
        runs = []
        for path in args.paths.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                runs.append(one_run(data, seed, path, work / "runs", Xt, yt))
                print(runs[-1], file=sys.stderr, flush=True)
    result["runs"] = runs
    for path in {r["path"] for r in runs}:
        mine = [r for r in runs if r["path"] == path]
        result[f"{path}_median_wall_min"] = statistics.median(r["wall_min"] for r in mine)
        result[f"{path}_mean_test_macro_f1"] = round(float(np.mean([r["test_macro_f1"] for r in mine])), 4)
    if "fast_median_wall_min" in result and "plain_median_wall_min" in result:
        result["speedup_fast_vs_plain"] = round(result["plain_median_wall_min"] / result["fast_median_wall_min"], 2)
    emit(result, args.json)


if __name__ == "__main__":
    main()
