"""The oracle ceiling of a built simulated dataset: accuracy and most confused pairs per task.

Usage: python benchmarks/oracle_ceiling.py DATASET [--task category --task model] [--seed 0] [--split test]

Trains `gunshot_bench.sim.oracle` on the train split's `sim_params` (never the labels' columns)
and scores it on `--split`. The confused pairs are the label pairs the simulator makes
physically near-indistinguishable (docs/simulator.md).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from gunshot_bench.dataset.shards import iter_batches
from gunshot_bench.sim.oracle import confused_pairs, oracle_proba
from gunshot_bench.tasks import get_task


def load_frame(data_dir: Path, config: str, split: str) -> pd.DataFrame:
    """The split's rows without their audio (the oracle needs none)."""
    frames = [batch.drop_columns(["audio"]).to_pandas() for batch in iter_batches(data_dir, config, split)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def oracle_report(data_dir: Path, tasks=("category", "model"), seed: int = 0, split: str = "test") -> dict:
    report = {}
    for name in tasks:
        task = get_task(name)
        train, test = load_frame(data_dir, task.config, "train"), load_frame(data_dir, task.config, split)
        m_train, y_train = task.select(train)
        m_test, y_test = task.select(test)
        proba = oracle_proba(train[m_train].reset_index(drop=True), y_train,
                             test[m_test].reset_index(drop=True), task.n_classes, seed)
        pred = proba.argmax(axis=1)
        report[name] = {"accuracy": float(np.mean(pred == y_test)) if len(y_test) else math.nan,
                        "n_train": int(len(y_train)), "n_test": int(len(y_test)),
                        "majority": float(np.bincount(y_test).max() / len(y_test)) if len(y_test) else math.nan,
                        "confusions": confused_pairs(y_test, pred, task.label_names, top=15)}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--task", action="append", dest="tasks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    report = oracle_report(args.dataset, tuple(args.tasks or ("category", "model")), args.seed, args.split)
    for name, r in report.items():
        print(f"{name}: oracle accuracy {r['accuracy']:.3f} on {r['n_test']} {args.split} rows "
              f"(trained on {r['n_train']}; majority class {r['majority']:.3f})")
        for true, pred, count, support in r["confusions"]:
            print(f"  {true} -> {pred}: {count} of {support}")


if __name__ == "__main__":
    main()
