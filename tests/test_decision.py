"""Detection thresholds chosen on validation data for a target false-alarm rate, and used by predict."""

import json

import numpy as np
import pytest

from gunshot_bench.decision import (DecisionConfig, choose_threshold, decision_warning, gunshot_scores, load_threshold,
                                    predict_labels, rank_scores)
from gunshot_bench.rng import derive_rng
from synth_clips import fake_split
from test_train import ONE_PER_CATEGORY, fake_data  # noqa: F401  (the fixture)


@pytest.mark.parametrize("target", [0.0, 0.01, 0.05, 0.2, 0.5])
def test_threshold_meets_the_target_rate_with_the_most_alarms_allowed(target):
    rng = derive_rng(0, "decision", target)
    # rounded to 2 decimals: many ties, as a saturated classifier gives
    negatives = np.round(rng.beta(2, 5, 300), 2).astype(np.float32)
    t = choose_threshold(negatives, target)
    rate = float(np.mean(negatives >= t))  # compared in float32, as the models' scores are
    assert rate <= target
    assert float(np.mean(negatives.astype(np.float64) >= t)) == rate
    # lowering the threshold to the next negative score would exceed the target
    below = negatives[negatives < t]
    if below.size:
        assert np.mean(negatives >= below.max()) > target


def test_decision_rule_is_the_threshold():
    proba = np.array([[0.7, 0.3], [0.4, 0.6], [0.1, 0.9], [0.75, 0.25]])
    classes = np.array([0, 1])
    np.testing.assert_array_equal(predict_labels(proba, classes, 0.8), [0, 0, 1, 0])
    np.testing.assert_array_equal(predict_labels(proba, classes, 0.25), [1, 1, 1, 1])
    np.testing.assert_array_equal(predict_labels(proba, classes, None), [0, 1, 1, 0])
    assert rank_scores(proba, np.array([3, 7]), 0.1) is not None  # other tasks: untouched
    np.testing.assert_array_equal(rank_scores(proba, np.array([3, 7]), 0.1), proba)


def test_detection_run_records_a_threshold_that_meets_its_target_on_validation(fake_data, tmp_path):
    from gunshot_bench.train import load_run, train_run

    run = train_run(fake_data["dir"], "svm", "detection", 0, tmp_path / "r",
                    {"decision": {"target_false_alarm_rate": 0.125}}, progress=False)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    decision = config["decision"]
    assert decision["target_false_alarm_rate"] == 0.125 and load_threshold(tmp_path / "r") == decision["threshold"]
    X, frame = fake_split(ONE_PER_CATEGORY, 2, seed=0, split="validation", background=8)
    y = frame["is_gunshot"].to_numpy(int)
    # Scored with the run's own thread count, as train_run chose the threshold: BLAS sums in the
    # MFCC projection differ in the last float bits with the thread count (~1e-7 on a score),
    # enough to move a score that sits exactly at the threshold.
    from gunshot_bench.repro import deterministic

    with deterministic(0, config["threads"]):
        scores = gunshot_scores(load_run(tmp_path / "r").model, X)
    false_alarms = float(np.mean(scores[y == 0] >= decision["threshold"]))
    assert false_alarms <= 0.125 and false_alarms == pytest.approx(decision["validation_false_alarm_rate"])
    assert decision["validation_recall"] == pytest.approx(float(np.mean(scores[y == 1] >= decision["threshold"])))
    assert run.metrics["n"] == len(y)
    # a category run has no threshold
    train_run(fake_data["dir"], "lda", "category", 0, tmp_path / "c", progress=False)
    assert load_threshold(tmp_path / "c") is None
    with pytest.raises(ValueError, match="target_false_alarm_rate"):
        DecisionConfig(target_false_alarm_rate=1.5)


def test_predict_uses_the_run_threshold(fake_data, tmp_path):
    import soundfile as sf

    from gunshot_bench.predict import predict_files
    from gunshot_bench.train import train_run

    train_run(fake_data["dir"], "lda", "detection", 0, tmp_path / "r", progress=False)
    X, _ = fake_split(ONE_PER_CATEGORY, 1, seed=5, split="test", background=0)
    sf.write(tmp_path / "shot.wav", X[0], 44100)
    config_path = tmp_path / "r" / "config.json"
    labels = {}
    for t in (0.0, 1.01):
        config = json.loads(config_path.read_text())
        config["decision"] = {"threshold": t}
        config_path.write_text(json.dumps(config))
        labels[t] = predict_files([tmp_path / "shot.wav"], run_dir=tmp_path / "r")[0].detections[0].label
    assert labels == {0.0: "Gunshot", 1.01: "Not a gunshot"}


def test_poor_operating_points_are_warned_about():
    ok = {"target_false_alarm_rate": 0.02, "threshold": 0.8, "validation_recall": 0.9, "n_validation_negative": 500}
    assert decision_warning(ok) is None and decision_warning(None) is None
    missed = decision_warning({**ok, "validation_recall": 0.0, "threshold": 0.9934})
    assert "validation recall 0.00 at the threshold 0.9934" in missed and "\n" not in missed
    coarse = decision_warning({**ok, "n_validation_negative": 82})
    assert "82 validation negatives" in coarse and "recall" not in coarse.split(";")[0]


def test_training_warns_when_the_threshold_misses_most_gunshots(fake_data, tmp_path, caplog, monkeypatch):
    from gunshot_bench import decision
    from gunshot_bench.train import train_run

    # a detector that scores every clip the same: no threshold under the target passes a gunshot
    monkeypatch.setattr(decision, "gunshot_scores", lambda model, X: np.full(len(X), 0.7))
    with caplog.at_level("WARNING", logger="gunshot_bench.train"):
        train_run(fake_data["dir"], "lda", "detection", 0, tmp_path / "r", progress=False)
    assert any("validation recall 0.00" in r.getMessage() for r in caplog.records)
