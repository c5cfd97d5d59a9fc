"""Metrics against scikit-learn on hand-made predictions, and the bootstrap's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from gunshot_bench.metrics import (
    BootstrapSettings,
    DetectionSettings,
    SeedPrediction,
    classification_scores,
    confusion_counts,
    detection_from_weights,
    detection_scores,
    evaluate_seeds,
    resample_weights,
    scores_from_confusion,
    two_stage_from_weights,
    two_stage_scores,
)
from gunshot_bench.rng import derive_rng

NAMES = ("a", "b", "c", "d")


def _noisy_predictions(n: int, n_classes: int, p_correct: float, key: str):
    rng = derive_rng(0, "test_metrics", key)
    y_true = rng.integers(0, n_classes, n)
    wrong = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < p_correct, y_true, wrong)
    return y_true, y_pred


def test_classification_scores_by_hand():
    # Class d has no test clips but is predicted once: an error for the true class (a),
    # and d stays out of the macro averages.
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 3, 1, 0, 2])
    out = classification_scores(y_true, y_pred, NAMES)
    s = out["scores"]
    assert s["accuracy"] == pytest.approx(4 / 6)
    # recalls: a 2/3, b 1/2, c 1 -> balanced accuracy = mean
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # precisions: a 2/3, b 1, c 1
    assert s["macro_precision"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert out["per_class"]["a"] == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3),
                                     "f1": pytest.approx(2 / 3), "support": 3}
    assert "d" not in out["per_class"]
    assert out["confusion_matrix"] == [[2, 0, 0, 1], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_classification_scores_match_sklearn():
    y_true, y_pred = _noisy_predictions(300, 4, 0.6, "sk")
    s = classification_scores(y_true, y_pred, NAMES)["scores"]
    assert s["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert s["macro_precision"] == pytest.approx(precision_score(y_true, y_pred, average="macro"))
    assert s["macro_recall"] == pytest.approx(recall_score(y_true, y_pred, average="macro"))
    assert s["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_weighted_confusion_scores_equal_sklearn_on_repeated_clips():
    y_true, y_pred = _noisy_predictions(80, 4, 0.5, "rep")
    counts = derive_rng(1, "counts").integers(0, 4, 80)
    counts[y_true == 3] = 0  # a class absent from this resample is left out of its macro average
    got = scores_from_confusion(confusion_counts(y_true, y_pred, counts[None, :], 4), np.arange(4))
    rt, rp = np.repeat(y_true, counts), np.repeat(y_pred, counts)
    present = np.unique(rt)
    assert got["accuracy"][0] == pytest.approx(accuracy_score(rt, rp))
    assert got["macro_f1"][0] == pytest.approx(f1_score(rt, rp, labels=present, average="macro", zero_division=0))
    assert got["macro_precision"][0] == pytest.approx(
        precision_score(rt, rp, labels=present, average="macro", zero_division=0))
    assert got["balanced_accuracy"][0] == pytest.approx(recall_score(rt, rp, labels=present, average="macro"))


def test_two_stage_identities():
    m2c = np.array([0, 0, 1, 1, 1])  # 5 models in 2 categories
    y_true = np.array([0, 0, 1, 2, 3, 4, 4, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 4, 3, 4])
    s = two_stage_scores(y_true, y_pred, m2c, ("x", "y"))
    assert s["stage1_accuracy"] == pytest.approx(7 / 8)  # only 3 -> 0 crosses categories
    assert s["routing_error"] == pytest.approx(1 / 8)
    assert s["end_to_end_accuracy"] == pytest.approx(4 / 8)
    assert s["stage2_accuracy"] == pytest.approx(4 / 7)
    assert s["end_to_end_accuracy"] == pytest.approx(s["stage1_accuracy"] * s["stage2_accuracy"])
    assert s["stage2_accuracy/x"] == pytest.approx(2 / 3)
    assert s["stage2_accuracy/y"] == pytest.approx(2 / 4)
    assert s["end_to_end_accuracy"] <= s["stage1_accuracy"]
    assert s["stage1_macro_f1"] == pytest.approx(f1_score(m2c[y_true], m2c[y_pred], average="macro"))
    w = two_stage_from_weights(y_true, y_pred, m2c, np.ones((1, 8)))
    for key in w:
        assert w[key][0] == pytest.approx(s[key])


def _detection_case(n: int, key: str):
    rng = derive_rng(0, "det", key)
    y = (rng.random(n) < 0.4).astype(int)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, n), 0, 1).round(2)  # rounding makes ties
    return y, score


def test_detection_scores_match_sklearn_and_hand_counts():
    y, score = _detection_case(200, "sk")
    settings = DetectionSettings(far_target=0.1, recall_target=0.8)
    out = detection_scores(y, score, settings=settings)
    s = out["scores"]
    assert s["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert s["pr_auc"] == pytest.approx(average_precision_score(y, score))
    assert s["recall"] == pytest.approx(recall_score(y, score >= 0.5))
    # recall at FAR: brute force over every threshold
    thresholds = np.unique(score)
    best_recall, best_precision = 0.0, 0.0
    for t in thresholds:
        called = score >= t
        far = (called & (y == 0)).sum() / (y == 0).sum()
        rec = (called & (y == 1)).sum() / (y == 1).sum()
        if far <= 0.1:
            best_recall = max(best_recall, rec)
        if rec >= 0.8:
            best_precision = max(best_precision, (called & (y == 1)).sum() / called.sum())
    assert s["recall_at_far"] == pytest.approx(best_recall)
    assert s["precision_at_recall"] == pytest.approx(best_precision)
    false_alarms = ((score >= 0.5) & (y == 0)).sum()
    assert s["false_alarms_per_hour"] == pytest.approx(false_alarms / ((y == 0).sum() * 2.0 / 3600))


def test_weighted_detection_scores_equal_point_scores():
    y, score = _detection_case(150, "w")
    pred = (score >= 0.5).astype(int)
    counts = derive_rng(2, "det_counts").integers(0, 3, 150)
    weights = np.stack([np.ones(150), counts])
    got = detection_from_weights(y, score, pred, weights)
    for row, (yy, ss) in enumerate([(y, score), (np.repeat(y, counts), np.repeat(score, counts))]):
        want = detection_scores(yy, ss, (ss >= 0.5).astype(int))["scores"]
        for key, value in want.items():
            assert got[key][row] == pytest.approx(value), key


def test_bootstrap_contains_point_and_narrows_with_more_clips():
    widths = []
    for n in (60, 600):
        y_true, y_pred = _noisy_predictions(n, 4, 0.7, f"n{n}")
        preds = [SeedPrediction(0, y_pred)]
        out = evaluate_seeds("category", y_true, preds, NAMES, rng=derive_rng(0, "boot", n),
                             bootstrap=BootstrapSettings(n_resamples=400))
        for metric in ("accuracy", "macro_f1", "balanced_accuracy"):
            agg = out["aggregate"][metric]
            assert agg["ci_low"] <= agg["mean"] <= agg["ci_high"], metric
        widths.append(out["aggregate"]["accuracy"]["ci_high"] - out["aggregate"]["accuracy"]["ci_low"])
    # the width shrinks like 1/sqrt(n): 10x the clips, about 1/3 of the width
    assert widths[1] < 0.5 * widths[0]


def test_resample_weights_draw_n_clips_with_replacement():
    w = resample_weights(50, 200, derive_rng(0, "w"))
    assert (w.sum(axis=1) == 50).all()
    # each clip is drawn once per resample on average
    assert w.mean() == pytest.approx(1.0)
    assert 0.3 < (w == 0).mean() < 0.45  # about 1/e of the clips are left out of a resample


def test_evaluate_seeds_aggregates_mean_and_std_over_seeds():
    y_true, _ = _noisy_predictions(200, 4, 0.7, "seeds")
    preds = [SeedPrediction(k, _noisy_predictions(200, 4, p, "seeds")[1]) for k, p in enumerate((0.5, 0.7, 0.9))]
    out = evaluate_seeds("model", y_true, preds, NAMES, model_to_category=[0, 0, 1, 1],
                         category_names=("x", "y"), rng=derive_rng(0, "agg"),
                         bootstrap=BootstrapSettings(n_resamples=200))
    accs = [accuracy_score(y_true, p.y_pred) for p in preds]
    agg = out["aggregate"]["accuracy"]
    assert agg["mean"] == pytest.approx(np.mean(accs))
    assert agg["std"] == pytest.approx(np.std(accs, ddof=1))
    assert agg["ci_low"] < agg["mean"] < agg["ci_high"]
    assert out["aggregate"]["end_to_end_accuracy"]["mean"] == pytest.approx(agg["mean"])
    assert out["aggregate"]["stage2_accuracy/x"]["ci_low"] is None  # no bootstrap for per-category


def test_detection_needs_both_classes_and_scores():
    with pytest.raises(ValueError, match="both"):
        detection_scores(np.ones(5), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="score"):
        evaluate_seeds("detection", [0, 1], [SeedPrediction(0, np.array([0, 1]))], ("n", "g"),
                       rng=derive_rng(0, "x"))
    with pytest.raises(ValueError, match="outside"):
        classification_scores([0, 5], [0, 1], NAMES)
