"""Scores for every task, bootstrap intervals over test clips and aggregation over seeds.

Point scores come from scikit-learn. The bootstrap needs the same scores on ~1000 resamples
of the test clips for every seed of every model; calling scikit-learn 1000 times per metric
takes seconds each, which would dominate the leaderboard's time budget. So the resampled
scores are computed here in vectorised form from per-resample clip *counts* (a resample is a
vector of how often each test clip was drawn): confusion matrices by `np.bincount`, ROC/PR
curves by cumulative sums over the sorted scores. Tests check that with unit counts they equal
scikit-learn exactly, and with integer counts they equal scikit-learn on the repeated clips.

Conventions (stated here once, used everywhere):
- Macro averages and balanced accuracy run over the classes that have test clips (the
  classes present in `y_true`); predicting a class that has no test clips is still an error
  for the true class. In a bootstrap resample, a class that happens not to be drawn is left
  out of that resample's macro average rather than scored 0.
- Detection: `recall_at_far` is the highest recall whose false-alarm rate (false positives /
  negatives) is at most `far_target`, `precision_at_recall` the highest precision whose recall
  is at least `recall_target`: operating points chosen on the curve, as ROC analysis does.
  False alarms per hour count false positives of the model's own decisions over the
  background audio, each negative clip being `clip_duration_s` long.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1")
TWO_STAGE_METRICS = ("stage1_accuracy", "stage1_macro_f1", "stage2_accuracy", "end_to_end_accuracy", "routing_error")
DETECTION_METRICS = CLASSIFICATION_METRICS + (
    "recall",
    "precision",
    "roc_auc",
    "pr_auc",
    "recall_at_far",
    "precision_at_recall",
    "false_alarms_per_hour",
)
#: The headline score of each task: the studies report accuracy for classification; for
#: detection a missed shooting costs more than a false alarm, so recall at a bounded
#: false-alarm rate.
MAIN_METRIC = {
    "category": "accuracy",
    "model": "accuracy",
    "two_stage": "accuracy",
    "detection": "recall_at_far",
}


@dataclass(frozen=True)
class DetectionSettings:
    """Operating points of the detection metrics."""

    far_target: float = 0.05
    recall_target: float = 0.9
    clip_duration_s: float = 2.0

    def __post_init__(self):
        if not 0.0 < self.far_target < 1.0:
            raise ValueError(f"far_target must be in (0, 1), got {self.far_target}")
        if not 0.0 < self.recall_target <= 1.0:
            raise ValueError(f"recall_target must be in (0, 1], got {self.recall_target}")
        if self.clip_duration_s <= 0:
            raise ValueError(f"clip_duration_s must be positive, got {self.clip_duration_s}")


# --------------------------------------------------------------------------- point scores


def classification_scores(y_true, y_pred, label_names: Sequence[str]) -> dict:
    """Accuracy, balanced accuracy, macro and per-class P/R/F1 and the confusion matrix.

    Args:
        y_true, y_pred: integer class indices into `label_names`.
        label_names: every class of the task (the confusion matrix is K x K over all of them).

    Returns:
        {"scores": {metric: float}, "per_class": {name: {precision, recall, f1, support}},
        "confusion_matrix": K x K list (rows true, columns predicted)}.
    """
    y_true, y_pred = _as_labels(y_true, y_pred, len(label_names))
    present = np.unique(y_true)
    p, r, f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=present, zero_division=0
    )
    scores = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": _balanced_accuracy(y_true, y_pred, present),
        "macro_precision": float(np.mean(p)),
        "macro_recall": float(np.mean(r)),
        "macro_f1": float(np.mean(f)),
    }
    per_class = {
        label_names[c]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
        for i, c in enumerate(present)
    }
    cm = confusion_matrix(y_true, y_pred, labels=np.arange(len(label_names)))
    return {"scores": scores, "per_class": per_class, "confusion_matrix": cm.tolist()}


def _balanced_accuracy(y_true, y_pred, present) -> float:
    # sklearn warns (and drops the class) when y_pred holds classes absent from y_true, or when
    # one class is all there is; the value is the mean recall over the present classes anyway.
    if len(present) > 1 and np.isin(y_pred, present).all():
        return float(balanced_accuracy_score(y_true, y_pred))
    recalls = [np.mean(y_pred[y_true == c] == c) for c in present]
    return float(np.mean(recalls))


def two_stage_scores(y_true, y_pred, model_to_category, category_names: Sequence[str]) -> dict:
    """Per-stage scores of a model-level classifier, read through the category of each model.

    The category predicted for a clip is the category of its predicted model: for the
    two-stage model that is exactly the sub-model it was routed to; for a flat model it makes
    the two comparable. `stage2_accuracy` is the model accuracy among clips routed to the right
    sub-model, so `end_to_end_accuracy == stage1_accuracy * stage2_accuracy`; `routing_error`
    is the fraction of clips sent to a wrong sub-model.

    Returns:
        {metric: float} with the TWO_STAGE_METRICS plus `stage2_accuracy/<category>` for each
        category that has correctly routed clips.
    """
    m2c = np.asarray(model_to_category, dtype=np.int64)
    y_true, y_pred = _as_labels(y_true, y_pred, len(m2c))
    cat_true, cat_pred = m2c[y_true], m2c[y_pred]
    routed = cat_true == cat_pred
    correct = y_true == y_pred
    out = {
        "stage1_accuracy": float(routed.mean()),
        "stage1_macro_f1": classification_scores(cat_true, cat_pred, _names(m2c, category_names))["scores"]["macro_f1"],
        "stage2_accuracy": float(correct[routed].mean()) if routed.any() else float("nan"),
        "end_to_end_accuracy": float(correct.mean()),
        "routing_error": float(1.0 - routed.mean()),
    }
    for c, name in enumerate(category_names):
        sel = routed & (cat_true == c)
        if sel.any():
            out[f"stage2_accuracy/{name}"] = float(correct[sel].mean())
    return out


def _names(model_to_category: np.ndarray, category_names: Sequence[str]) -> Sequence[str]:
    n = int(model_to_category.max()) + 1
    return tuple(category_names) if len(category_names) >= n else tuple(str(c) for c in range(n))


def detection_scores(y_true, score, y_pred=None, settings: DetectionSettings = DetectionSettings(),
                     label_names: Sequence[str] = ("background", "gunshot")) -> dict:
    """Binary detection scores from gunshot scores (probability of the positive class).

    Args:
        y_true: 1 for gunshot, 0 for background.
        score: the model's score for "gunshot" (higher = more likely).
        y_pred: the model's own decisions; default `score >= 0.5`.
        label_names: names of class 0 (negative) and class 1 (gunshot).

    Returns:
        `classification_scores` over `label_names` with the DETECTION_METRICS
        added to "scores".
    """
    y_true = np.asarray(y_true).astype(np.int64)
    score = np.asarray(score, dtype=np.float64)
    y_pred = (score >= 0.5).astype(np.int64) if y_pred is None else np.asarray(y_pred).astype(np.int64)
    if len(np.unique(y_true)) != 2:
        raise ValueError("detection scores need both gunshot and background clips in the test set")
    out = classification_scores(y_true, y_pred, label_names)
    positive = out["per_class"][label_names[1]]
    fpr, tpr, _ = roc_curve(y_true, score, drop_intermediate=False)
    precision, recall, _ = precision_recall_curve(y_true, score)
    n_neg = int((y_true == 0).sum())
    false_alarms = int(((y_pred == 1) & (y_true == 0)).sum())
    out["scores"].update(
        recall=positive["recall"],
        precision=positive["precision"],
        roc_auc=float(roc_auc_score(y_true, score)),
        pr_auc=float(average_precision_score(y_true, score)),
        recall_at_far=float(tpr[fpr <= settings.far_target].max()),
        precision_at_recall=float(precision[recall >= settings.recall_target].max()),
        false_alarms_per_hour=false_alarms / (n_neg * settings.clip_duration_s / 3600.0),
    )
    return out


def _as_labels(y_true, y_pred, n_classes: int):
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} clips but y_pred has {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("no test clips to score")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"{name} holds class indices outside 0..{n_classes - 1}")
    return y_true, y_pred


# ------------------------------------------------------------ weighted (bootstrap) scores


def confusion_counts(y_true, y_pred, weights, n_classes: int) -> np.ndarray:
    """Confusion matrices [B, K, K] of one prediction under B weightings of the clips.

    `weights[b, i]` is how often clip i was drawn in resample b (all ones: the plain matrix).
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    n_res = weights.shape[0]
    cell = np.asarray(y_true, np.int64) * n_classes + np.asarray(y_pred, np.int64)
    flat = (np.arange(n_res)[:, None] * n_classes * n_classes + cell[None, :]).ravel()
    counts = np.bincount(flat, weights=weights.ravel(), minlength=n_res * n_classes * n_classes)
    return counts.reshape(n_res, n_classes, n_classes)


def scores_from_confusion(cm: np.ndarray, classes) -> dict[str, np.ndarray]:
    """CLASSIFICATION_METRICS of confusion matrices [B, K, K], macro over `classes`.

    A class of `classes` with no clips in a resample is left out of that resample's macro
    averages (see the module docstring).
    """
    cm = np.asarray(cm, dtype=np.float64)
    classes = np.asarray(classes, dtype=np.int64)
    tp = np.diagonal(cm, axis1=1, axis2=2)[:, classes]
    n_true = cm.sum(axis=2)[:, classes]
    n_pred = cm.sum(axis=1)[:, classes]
    with np.errstate(divide="ignore", invalid="ignore"):
        has = n_true > 0
        recall = np.where(has, tp / np.where(has, n_true, 1), np.nan)
        precision = np.where(n_pred > 0, tp / np.where(n_pred > 0, n_pred, 1), 0.0)
        denom = precision + np.nan_to_num(recall)
        f1 = np.where(denom > 0, 2 * precision * np.nan_to_num(recall) / np.where(denom > 0, denom, 1), 0.0)
        n_has = has.sum(axis=1)
        macro = lambda v: np.where(has, v, 0.0).sum(axis=1) / np.maximum(n_has, 1)  # noqa: E731
        total = cm.sum(axis=(1, 2))
        return {
            "accuracy": np.diagonal(cm, axis1=1, axis2=2).sum(axis=1) / total,
            "balanced_accuracy": macro(np.nan_to_num(recall)),
            "macro_precision": macro(precision),
            "macro_recall": macro(np.nan_to_num(recall)),
            "macro_f1": macro(f1),
        }


def two_stage_from_weights(y_true, y_pred, model_to_category, weights) -> dict[str, np.ndarray]:
    """TWO_STAGE_METRICS under B weightings of the clips (arrays of length B)."""
    m2c = np.asarray(model_to_category, dtype=np.int64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    cat_true, cat_pred = m2c[np.asarray(y_true)], m2c[np.asarray(y_pred)]
    cm = confusion_counts(cat_true, cat_pred, w, int(m2c.max()) + 1)
    stage1_f1 = scores_from_confusion(cm, np.unique(cat_true))["macro_f1"]
    routed = (cat_true == cat_pred).astype(np.float64)
    correct = (np.asarray(y_true) == np.asarray(y_pred)).astype(np.float64)
    total, n_routed, n_correct = w.sum(axis=1), w @ routed, w @ (correct * routed)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "stage1_accuracy": n_routed / total,
            "stage1_macro_f1": stage1_f1,
            "stage2_accuracy": np.where(n_routed > 0, n_correct / n_routed, np.nan),
            "end_to_end_accuracy": (w @ correct) / total,
            "routing_error": 1.0 - n_routed / total,
        }


def detection_from_weights(
    y_true, score, y_pred, weights, settings: DetectionSettings = DetectionSettings()
) -> dict[str, np.ndarray]:
    """DETECTION_METRICS under B weightings of the clips (arrays of length B).

    The ROC and PR curves are built over the distinct scores in descending order, as
    scikit-learn does: at threshold u every clip scoring >= u is called a gunshot.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    n_res = w.shape[0]
    out = scores_from_confusion(confusion_counts(y_true, y_pred, w, 2), [0, 1])
    uniq, inv = np.unique(-np.asarray(score, dtype=np.float64), return_inverse=True)  # descending scores
    n_u = uniq.size
    flat = (np.arange(n_res)[:, None] * n_u + inv[None, :]).ravel()
    pos = np.bincount(flat, weights=(w * (y_true == 1)).ravel(), minlength=n_res * n_u).reshape(n_res, n_u)
    neg = np.bincount(flat, weights=(w * (y_true == 0)).ravel(), minlength=n_res * n_u).reshape(n_res, n_u)
    tps, fps = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    n_pos, n_neg = tps[:, -1:], fps[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.concatenate([np.zeros((n_res, 1)), tps / n_pos], axis=1)
        fpr = np.concatenate([np.zeros((n_res, 1)), fps / n_neg], axis=1)
        roc_auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)
        precision = tps / (tps + fps)
        pr_auc = np.sum(np.diff(tpr, axis=1) * precision, axis=1)
        recall_at_far = np.where(fpr <= settings.far_target, tpr, -np.inf).max(axis=1)
        precision_at_recall = np.where(tpr[:, 1:] >= settings.recall_target, precision, -np.inf).max(axis=1)
        bad = (n_pos[:, 0] == 0) | (n_neg[:, 0] == 0)
        false_alarms = w @ ((y_pred == 1) & (y_true == 0)).astype(np.float64)
        hours = n_neg[:, 0] * settings.clip_duration_s / 3600.0
        cm = confusion_counts(y_true, y_pred, w, 2)
        tp, n_called = cm[:, 1, 1], cm[:, :, 1].sum(axis=1)
        out.update(
            recall=tp / n_pos[:, 0],
            precision=np.where(n_called > 0, tp / np.where(n_called > 0, n_called, 1), 0.0),
            roc_auc=np.where(bad, np.nan, roc_auc),
            pr_auc=np.where(bad, np.nan, pr_auc),
            recall_at_far=np.where(bad, np.nan, recall_at_far),
            precision_at_recall=np.where(bad, np.nan, precision_at_recall),
            false_alarms_per_hour=np.where(hours > 0, false_alarms / np.where(hours > 0, hours, 1), np.nan),
        )
    return out


# ------------------------------------------------------------------ bootstrap and seeds


@dataclass(frozen=True)
class BootstrapSettings:
    """Percentile bootstrap over test clips.

    Attributes:
        n_resamples: resamples of the test clips (with replacement, same size).
        confidence: coverage of the interval (0.95: the 2.5th to 97.5th percentile).
        seed: seed of the resampling generator; the resamples also depend on the stable keys
            the caller passes (e.g. dataset fingerprint and task), so that every model scored
            on one test set sees the same resamples (a paired comparison).
    """

    n_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self):
        if self.n_resamples < 10:
            raise ValueError(f"n_resamples must be at least 10, got {self.n_resamples}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")


@dataclass(frozen=True)
class SeedPrediction:
    """What one trained seed predicted on the test clips.

    Attributes:
        seed: the training seed.
        y_pred: predicted class index per clip.
        score: detection only: the score of the positive (gunshot) class per clip.
    """

    seed: int
    y_pred: np.ndarray
    score: np.ndarray | None = None


def resample_weights(n_clips: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Counts [n_resamples, n_clips]: how often each clip is drawn in each bootstrap resample."""
    idx = rng.integers(0, n_clips, size=(n_resamples, n_clips))
    flat = (np.arange(n_resamples)[:, None] * n_clips + idx).ravel()
    return np.bincount(flat, minlength=n_resamples * n_clips).reshape(n_resamples, n_clips).astype(np.float64)


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """The central `confidence` interval of bootstrap values, ignoring undefined resamples."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return float(lo), float(hi)


def aggregate_seeds(values: Sequence[float], boot_means: np.ndarray | None, confidence: float) -> dict:
    """Mean and standard deviation over seeds, and the bootstrap interval of the seed mean."""
    vals = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    finite = vals[np.isfinite(vals)]
    lo, hi = (None, None) if boot_means is None else percentile_interval(boot_means, confidence)
    return {
        "mean": float(finite.mean()) if finite.size else None,
        "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0 if finite.size else None,
        "ci_low": lo,
        "ci_high": hi,
    }


def evaluate_seeds(
    task: str,
    y_true,
    predictions: Sequence[SeedPrediction],
    label_names: Sequence[str],
    *,
    model_to_category=None,
    category_names: Sequence[str] = (),
    detection: DetectionSettings = DetectionSettings(),
    bootstrap: BootstrapSettings = BootstrapSettings(),
    rng: np.random.Generator,
) -> dict:
    """Score every seed's predictions on one test set, with bootstrap intervals.

    The same resamples of the test clips are applied to every seed, so the interval of the
    aggregate is the bootstrap interval of the mean over seeds (test-set uncertainty of the
    reported figure), while `std` is the spread over training seeds.

    Args:
        task: "detection" for binary detection (needs `score`), anything else is classification.
            A detection test set with one class only (e.g. gunshots in noise) gets the
            classification scores (accuracy = recall there) without the curve metrics.
        y_true: true class index per test clip (detection: 1 = gunshot).
        predictions: one SeedPrediction per training seed, all on the same clips as `y_true`.
        label_names: the task's classes.
        model_to_category: for model-level tasks, the category index of each class: adds the
            two-stage scores (per stage, end to end, routing error).
        category_names: names of the categories, for the per-category stage-2 accuracy.
        rng: generator of the resamples, e.g. `derive_rng(seed, fingerprint, config, task)`.

    Returns:
        {"n_test", "per_seed": [{"seed", "scores", "intervals", "per_class",
        "confusion_matrix"}], "aggregate": {metric: {mean, std, ci_low, ci_high}},
        "resamples": {metric: array [n_seeds, n_resamples] of the score on each resample}}.
        The resamples depend on `rng` and the clip count only, so two models scored on one
        test set with the same `rng` seed are resampled identically (paired differences).
    """
    if not predictions:
        raise ValueError("no seed predictions to score")
    y_true = np.asarray(y_true).astype(np.int64)
    weights = resample_weights(y_true.size, bootstrap.n_resamples, rng)
    per_seed, boots = [], []
    for pred in predictions:
        y_pred = np.asarray(pred.y_pred).astype(np.int64)
        if task == "detection" and len(np.unique(y_true)) == 2:
            if pred.score is None:
                raise ValueError(f"seed {pred.seed}: detection needs the gunshot score of every clip")
            point = detection_scores(y_true, pred.score, y_pred, detection, tuple(label_names))
            boot = detection_from_weights(y_true, pred.score, y_pred, weights, detection)
        else:
            point = classification_scores(y_true, y_pred, label_names)
            boot = scores_from_confusion(
                confusion_counts(y_true, y_pred, weights, len(label_names)), np.unique(y_true)
            )
            if model_to_category is not None:
                point["scores"].update(two_stage_scores(y_true, y_pred, model_to_category, category_names))
                boot.update(two_stage_from_weights(y_true, y_pred, model_to_category, weights))
        intervals = {m: list(percentile_interval(v, bootstrap.confidence)) for m, v in boot.items()}
        per_seed.append({"seed": int(pred.seed), **point, "intervals": intervals})
        boots.append(boot)
    aggregate = {}
    for metric in per_seed[0]["scores"]:
        values = [s["scores"].get(metric) for s in per_seed]
        if metric in boots[0]:
            with warnings.catch_warnings():  # all-NaN resamples (e.g. no positives drawn) stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                boot_means = np.nanmean(np.stack([b[metric] for b in boots]), axis=0)
        else:
            boot_means = None
        aggregate[metric] = aggregate_seeds(values, boot_means, bootstrap.confidence)
    resamples = {m: np.stack([b[m] for b in boots]) for m in boots[0]}
    return {"n_test": int(y_true.size), "per_seed": per_seed, "aggregate": aggregate, "resamples": resamples}

