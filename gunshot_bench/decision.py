"""The decision threshold of detection runs, chosen on validation data for a target false-alarm rate.

A detector's argmax (gunshot when P(gunshot) > 0.5) fixes neither its false alarms nor its
misses; a deployment states how many false alarms it tolerates. `train_run` therefore picks,
on the validation split, the lowest threshold whose false-alarm rate (the fraction of validation
non-gunshot clips scored at or above it) does not exceed `target_false_alarm_rate`, and records
it in the run's config.json under "decision"; `predict` applies it (`rank_scores`).

Example:
    >>> choose_threshold(np.array([0.1, 0.2, 0.3, 0.9]), 0.25) > 0.3
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gunshot_bench.checkpoint import read_json
from gunshot_bench.errors import UserError

GUNSHOT = 1


@dataclass(frozen=True)
class DecisionConfig:
    """A baseline's `[decision]` table: the false-alarm rate (per 2 s clip) the threshold targets."""

    target_false_alarm_rate: float = 0.02

    def __post_init__(self):
        if not 0.0 <= float(self.target_false_alarm_rate) < 1.0:
            raise UserError(f"decision.target_false_alarm_rate must be in [0, 1), got {self.target_false_alarm_rate}")

    @classmethod
    def from_dict(cls, table: dict | None) -> "DecisionConfig":
        table = dict(table or {})
        unknown = sorted(set(table) - {"target_false_alarm_rate"})
        if unknown:
            raise UserError(f"[decision] has no key {', '.join(unknown)}; it takes target_false_alarm_rate")
        return cls(**table)


def choose_threshold(negative_scores: np.ndarray, target_false_alarm_rate: float) -> float:
    """The lowest threshold t with mean(negative_scores >= t) <= target_false_alarm_rate.

    At most floor(target x n) negatives may score at or above t: t lies just above the next one
    (ties at that score all fall below t, so the rate is never exceeded). t is the next float32
    above that score, so that it stays strictly above it whether the scores are compared in
    float32 (numpy casts a Python float to a float32 array's type) or in float64.
    """
    scores = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    if scores.size == 0:
        raise ValueError("choose_threshold: no negative scores to choose a threshold on")
    allowed = int(np.floor(target_false_alarm_rate * scores.size + 1e-9))
    if allowed >= scores.size:
        return 0.0
    return float(np.nextafter(np.float32(scores[allowed]), np.float32(np.inf)))


def gunshot_scores(model, X: np.ndarray) -> np.ndarray:
    """P(gunshot) of each clip (0 when the model never saw the gunshot class)."""
    proba = model.predict_proba(X)
    classes = np.asarray(model.classes_)
    return proba[:, classes == GUNSHOT].sum(axis=1) if (classes == GUNSHOT).any() else np.zeros(len(X))


def decide(model, X_val: np.ndarray, y_val: np.ndarray, config: DecisionConfig) -> dict | None:
    """The threshold for `config` on validation clips and what it achieves there (None without
    validation negatives). Recorded in config.json under "decision"."""
    y_val = np.asarray(y_val)
    if len(y_val) == 0 or not (y_val != GUNSHOT).any():
        return None
    scores = gunshot_scores(model, X_val)
    threshold = choose_threshold(scores[y_val != GUNSHOT], config.target_false_alarm_rate)
    hit = scores >= threshold
    pos = y_val == GUNSHOT
    return {"target_false_alarm_rate": float(config.target_false_alarm_rate), "threshold": threshold,
            "validation_false_alarm_rate": float(hit[~pos].mean()),
            "validation_recall": float(hit[pos].mean()) if pos.any() else None,
            "n_validation_negative": int((~pos).sum()), "n_validation_positive": int(pos.sum())}


#: Below this validation recall at the chosen threshold, `train_run` warns: the detector will
#: miss most gunshots at the target false-alarm rate.
LOW_RECALL = 0.5


def decision_warning(decision: dict | None) -> str | None:
    """A one-line warning when the chosen threshold is unreliable or misses most gunshots, else None.

    Two things make a validation-chosen threshold a poor operating point: a target false-alarm
    rate finer than 1/n of the validation negatives (the threshold then rests on the top one or
    two negative scores) and a low validation recall at it (impulsive negatives scoring above
    every gunshot). Both are reported rather than silently worked around: the threshold is the
    target's, and the remedy (a larger target, more validation negatives, more training) is the user's.
    """
    if not decision:
        return None
    notes = []
    recall, n_neg = decision.get("validation_recall"), decision["n_validation_negative"]
    if recall is not None and recall < LOW_RECALL:
        notes.append(f"validation recall {recall:.2f} at the threshold {decision['threshold']:.4g}")
    if decision["target_false_alarm_rate"] * n_neg < 2:
        notes.append(f"the target false-alarm rate {decision['target_false_alarm_rate']:g} rests on "
                     f"{n_neg} validation negatives (fewer than 2 allowed false alarms)")
    if not notes:
        return None
    return ("detection threshold: " + "; ".join(notes) +
            "; raise [decision] target_false_alarm_rate or train on more data (docs/simulator.md, 'Detection thresholds')")


def threshold_of(config: dict) -> float | None:
    """The decision threshold recorded in a run's config.json dict (None: decide by argmax)."""
    return (config.get("decision") or {}).get("threshold")


def load_threshold(run_dir: Path | str) -> float | None:
    """The decision threshold of the run in `run_dir` (None for runs without one)."""
    return threshold_of(read_json(Path(run_dir) / "config.json"))


def rank_scores(proba: np.ndarray, classes: np.ndarray, threshold: float | None) -> np.ndarray:
    """Scores whose argmax is the run's decision: for a thresholded detector, "gunshot" ranks
    first exactly when P(gunshot) >= threshold (the two columns shift by the threshold's
    distance from 0.5); other runs keep their probabilities."""
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray(classes)
    if threshold is None or proba.shape[1] != 2 or set(classes.tolist()) != {0, GUNSHOT}:
        return proba
    shift = np.where(classes == GUNSHOT, 0.5 - threshold, threshold - 0.5)
    # ties (P(gunshot) == threshold) go to gunshot: nudge by one ulp-scale step
    return proba + shift + np.where(classes == GUNSHOT, 1e-12, 0.0)


def predict_labels(proba: np.ndarray, classes: np.ndarray, threshold: float | None) -> np.ndarray:
    """Class labels under the run's decision rule (see `rank_scores`)."""
    return np.asarray(classes)[np.argmax(rank_scores(proba, classes, threshold), axis=1)]
