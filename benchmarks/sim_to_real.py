"""Score trained runs on any collection: how much of what a model learnt on simulated audio transfers.

Usage:
    python benchmarks/sim_to_real.py --run RUN [--run RUN ...] --source KIND=PATH [--source ...]
        [--task TASK] [--out DIR]

Each run directory (from `gunshot-bench train` or the leaderboard's `runs/`) is scored on each
collection, read by the package's loader of that kind (`folder`, `baseline`, `kaggle`, ...), cut
into 2 s segments exactly as `gunshot-bench evaluate` does: scanning, predicting and scoring
are `gunshot_bench.evaluate`'s (`collect_source`, `predict_clips`, `score_predictions`), so
the figures are those of the leaderboard's code. A detection run is scored twice: by argmax and
at its own decision threshold (`config.json` "decision", chosen on its validation split for a
target false-alarm rate). `--task category` scores a model-level run on categories.

Writes `DIR/sim_to_real.md` (one table) and `DIR/sim_to_real.json` (every row with its full
evaluation and the per-segment predictions); prints the table.

The real recordings shipped for this: `--source baseline=benchmarks/reference_audio` (nine CC0
gunshots, see its README.md: gunshots only, so detection gives recall, not precision).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from gunshot_bench.cli import UserError, parse_source
from gunshot_bench.decision import threshold_of
from gunshot_bench.evaluate import as_task, collect_source, map_predictions, predict_clips, score_predictions
from gunshot_bench.metrics import SeedPrediction
from gunshot_bench.train import load_run

COLUMNS = ("accuracy", "balanced_accuracy", "macro_f1", "recall", "precision")


def _metrics(evaluation: dict, y_true: np.ndarray, y_pred: np.ndarray, detection: bool) -> dict:
    """The table's figures: the scorer's aggregate where it has them; for detection, recall and
    precision of the gunshot class from the same predictions."""
    agg = evaluation.get("aggregate", {})
    out = {k: agg[k]["mean"] for k in ("accuracy", "balanced_accuracy", "macro_f1") if k in agg}
    if detection:
        hit, pos = y_pred == 1, y_true == 1
        out["recall"] = float(hit[pos].mean()) if pos.any() else None
        out["precision"] = float(pos[hit].mean()) if hit.any() else None
        out["false_alarm_rate"] = float(hit[~pos].mean()) if (~pos).any() else None
    return out


def score_run(run_dir: Path, kind: str, path: Path, task: str | None, cache: dict) -> list[dict]:
    """Rows (one per decision rule) of one run on one collection."""
    run = load_run(run_dir)
    want = as_task(task or run.task.name)
    key = (kind, str(path), want.name)
    if key not in cache:
        cache[key] = collect_source(kind, path, want, progress=False)
    test, skipped = cache[key]
    y_pred, score, ms = predict_clips(run.model, test.X, run.task)
    y_pred = map_predictions(run.task, want, y_pred)
    fingerprint = hashlib.sha256("\n".join(sorted(test.frame["segment_sha256"])).encode()).hexdigest()[:16]
    rules = [("argmax", y_pred)]
    threshold = threshold_of(run.config)
    if want.name == "detection" and threshold is not None:
        rules.append((f"threshold {threshold:.3g}", (np.asarray(score, np.float64) >= threshold).astype(np.int64)))
    seed = int(run.config.get("seed", 0))
    rows = []
    for rule, pred in rules:
        evaluation = score_predictions(want, test.y, [SeedPrediction(seed, pred, score)], rng_keys=(fingerprint,))
        rows.append({
            "run": str(run_dir), "model": run.config["model"], "trained_task": run.task.name, "task": want.name,
            "seed": seed, "trained_on": (run.config.get("dataset") or {}).get("name"),
            "augment": run.config.get("augment") is not None, "source": f"{kind}={path}",
            "decision": rule, "n_segments": int(len(test.y)), "n_left_out": len(skipped),
            "left_out": skipped, "ms_per_clip": ms,
            "metrics": _metrics(evaluation, test.y, pred, want.name == "detection"),
            "evaluation": evaluation,
            "segments": [{"clip_id": c, "y_true": want.label_names[int(t)], "y_pred": want.label_names[int(p)],
                          "gunshot_score": None if score is None else float(s)}
                         for c, t, p, s in zip(test.frame["clip_id"], test.y, pred,
                                               score if score is not None else [None] * len(pred))],
        })
    return rows


def markdown(rows: list[dict]) -> str:
    """The table of every row (figures as fractions; "-" where a figure does not apply)."""
    head = "| run | model | task | aug | source | decision | segments | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (7 + len(COLUMNS))]
    for r in rows:
        m = r["metrics"]
        cells = [f"{m[c]:.3f}" if m.get(c) is not None else "-" for c in COLUMNS]
        lines.append(f"| {Path(r['run']).name} | {r['model']} | {r['task']} | {'yes' if r['augment'] else 'no'} | "
                     f"{r['source']} | {r['decision']} | {r['n_segments']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _jsonable(value):
    """numpy scalars and arrays as JSON numbers and lists."""
    return value.tolist() if hasattr(value, "tolist") else float(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="score trained runs on real (or any) collections")
    parser.add_argument("--run", action="append", required=True, type=Path, help="a run directory (repeatable)")
    parser.add_argument("--source", action="append", required=True, metavar="KIND=PATH",
                        help="a collection, e.g. baseline=benchmarks/reference_audio (repeatable)")
    parser.add_argument("--task", default=None, help="task to score (default: each run's own)")
    parser.add_argument("--out", type=Path, default=Path("sim_to_real"), help="output folder (default ./sim_to_real)")
    args = parser.parse_args(argv)
    try:
        sources = [parse_source(s) for s in args.source]
        rows, cache = [], {}
        for run_dir in args.run:
            for kind, path in sources:
                rows += score_run(run_dir, kind, Path(path), args.task, cache)
    except (UserError, ValueError, FileNotFoundError) as exc:
        print(f"sim_to_real: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows)
    (args.out / "sim_to_real.md").write_text(table)
    (args.out / "sim_to_real.json").write_text(json.dumps(rows, indent=1, default=_jsonable))
    print(table, end="")
    print(f"written: {args.out / 'sim_to_real.md'}, {args.out / 'sim_to_real.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
