"""Robustness conditions: the variant rows scored level by level, per-level subsampling, curve areas.

| task | condition | rows | by |
|---|---|---|---|
| category / model / two_stage | crowd noise | `crowd_noise` test | `snr_db` |
| category / model / two_stage | gain, loudness | `energy` test (gunshots) | `gain_db`, `target_lufs` |
| detection | crowd noise | `detection` test, mixed rows (gunshots and negatives) | `snr_db` |
| detection | gain, loudness | `energy` test (gunshots and background) | `gain_db`, `target_lufs` |

Each curve comes with its area: the trapezoidal area under score-vs-level divided by the level
range, i.e. the mean score over the range (1.0 = perfect at every level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gunshot_bench.evaluate import TestSet
from gunshot_bench.evaluation.scoring import Scorer
from gunshot_bench.rng import stable_uniform
from gunshot_bench.tasks import Task


@dataclass(frozen=True)
class Condition:
    """Rows of one variant config, scored level by level along one column."""

    config: str
    by: str
    row_filter: tuple[str, str] | None = None  # (column, value) the rows must have

    def rows(self, test: TestSet) -> np.ndarray:
        frame = test.frame
        mask = frame[self.by].notna().to_numpy().copy()
        if self.row_filter is not None:
            column, value = self.row_filter
            mask &= (frame[column] == value).to_numpy()
        return mask


def conditions_for(task: Task) -> list[Condition]:
    """The conditions a task is scored under (see the module docstring's table)."""
    if task.name == "detection":
        return [Condition("detection", "snr_db", ("detection_kind", "mixed")),
                Condition("energy", "gain_db", ("energy_mode", "gain")),
                Condition("energy", "target_lufs", ("energy_mode", "loudness"))]
    return [Condition("crowd_noise", "snr_db"),
            Condition("energy", "gain_db", ("energy_mode", "gain")),
            Condition("energy", "target_lufs", ("energy_mode", "loudness"))]


def subsample_levels(test: TestSet, conds: list[Condition], max_clips: int) -> np.ndarray:
    """Rows to keep: at most `max_clips` per level of each condition.

    The clips are chosen by a stable hash of their source segment, so every level (and every
    model) gets the same source clips where it can: the curve then compares like with like.
    """
    frame = test.frame
    source = frame["source_clip_id"] if "source_clip_id" in frame else frame["clip_id"]
    rank = np.array([stable_uniform("robustness", s) for s in source])
    keep = np.zeros(len(frame), bool)
    for cond in conds:
        rows = cond.rows(test)
        values = frame[cond.by].to_numpy()
        for v in set(values[rows].tolist()):
            idx = np.flatnonzero(rows & (values == v))
            keep[idx[np.argsort(rank[idx], kind="stable")[:max_clips]]] = True
    return keep


def curve_area(levels, values) -> float | None:
    """Trapezoidal area under values-vs-levels over the level range (the mean over the range)."""
    pts = sorted((float(x), float(y)) for x, y in zip(levels, values) if y is not None and np.isfinite(y))
    if len(pts) < 2:
        return pts[0][1] if pts else None
    x, y = np.array(pts).T
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0) / (x[-1] - x[0]))


def level_value(v):
    """A level as the result records it: an int when whole, else rounded to 3 decimals."""
    f = float(v)
    return int(f) if f.is_integer() else round(f, 3)


def breakdown(scorer: Scorer, task: Task, test: TestSet, preds, cond: Condition) -> tuple[dict, dict]:
    """(breakdown over the condition's levels with curve areas, evaluation pooled over all its rows)."""
    rows = cond.rows(test)
    if not rows.any():
        raise ValueError(f"no {cond.config} test rows with {cond.by} for task {task.name}")
    values = test.frame[cond.by].to_numpy()
    levels = []
    for v in sorted(set(values[rows].tolist())):
        mask = rows & (values == v)
        ev = scorer.score(task, test, preds, mask, f"{cond.config}:{cond.by}={v}")
        levels.append({"value": level_value(v), "n_test": ev["n_test"], "aggregate": ev["aggregate"],
                       "per_seed_scores": [s["scores"] for s in ev["per_seed"]]})
    metrics = set.intersection(*(set(lv["aggregate"]) for lv in levels))
    area = {m: curve_area([lv["value"] for lv in levels], [lv["aggregate"][m]["mean"] for lv in levels])
            for m in sorted(metrics)}
    pooled = scorer.score(task, test, preds, rows, f"{cond.config}:{cond.by}")
    return {"by": cond.by, "levels": levels, "area": area}, pooled
