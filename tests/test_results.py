"""Result files: the schema accepts good results and names the field of bad ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gunshot_bench.metrics import BootstrapSettings, SeedPrediction, evaluate_seeds
from gunshot_bench.results import (
    ResultError,
    build_result,
    load_results,
    read_result,
    result_filename,
    validation_errors,
    write_result,
)
from gunshot_bench.rng import derive_rng

CATEGORIES = ("machine_gun", "pistol", "rifle", "shotgun", "submachine_gun")


def make_result(entry: str = "svm", task: str = "category", p_correct: float = 0.7, seeds=(0, 1, 2),
                n: int = 120, params: int | None = 1234, history: bool = True) -> dict:
    """A complete result from seeded fake predictions (shared with the leaderboard tests)."""
    rng = derive_rng(0, "make_result", task)
    if task == "detection":
        labels = ("background", "gunshot")
        y_true = (rng.random(n) < 0.5).astype(int)
        preds = []
        for s in seeds:
            r = derive_rng(s, "pred", entry, task)
            score = np.clip(y_true * p_correct + r.normal(0.5 - p_correct / 2, 0.2, n), 0, 1)
            preds.append(SeedPrediction(s, (score >= 0.5).astype(int), score))
    else:
        labels = CATEGORIES
        y_true = rng.integers(0, len(labels), n)
        preds = []
        for s in seeds:
            r = derive_rng(s, "pred", entry, task)
            preds.append(SeedPrediction(s, np.where(r.random(n) < p_correct, y_true, r.integers(0, 5, n))))
    boot = BootstrapSettings(n_resamples=100)
    evaluation = evaluate_seeds(task, y_true, preds, labels, bootstrap=boot, rng=derive_rng(0, "boot", task))
    seed_info = [
        {
            "train_time_s": 10.0 + s,
            "inference_time_per_clip_ms": 2.5,
            "epochs": 3,
            "history": {"train_loss": [1.0, 0.7, 0.5], "val_loss": [1.1, 0.9, 0.8],
                        "train_accuracy": [0.3, 0.5, 0.6], "val_accuracy": [0.3, 0.4, 0.5]} if history else None,
        }
        for s in seeds
    ]
    return build_result(
        kind="leaderboard", task=task, eval_config="detection" if task == "detection" else "clean",
        dataset={"name": "gunshot-bench-sim", "version": "1.0.0", "fingerprint": "abc123", "config": "clean",
                 "preset": "tiny"},
        model={"name": entry, "entry": entry, "config": {"C": 1.0}},
        label_names=labels, evaluation=evaluation, bootstrap=boot, seed_info=seed_info, params=params,
        wall_time_s=42.0, date="2026-11-23T12:00:00Z",
    )


def test_good_result_validates_and_round_trips(tmp_path):
    result = make_result()
    assert validation_errors(result) == []
    path = write_result(tmp_path / result_filename("svm", "category", "clean"), result)
    assert path.name == "svm__category__clean.json"
    back = read_result(path)
    assert back == result
    assert back["main_score"]["name"] == "accuracy"
    assert back["main_score"]["mean"] == pytest.approx(back["aggregate"]["accuracy"]["mean"])
    assert back["train_time_s"] == pytest.approx(11.0)  # mean over seeds 0, 1, 2
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_detection_result_validates():
    result = make_result("cnn", "detection")
    assert validation_errors(result) == []
    assert result["main_score"]["name"] == "recall_at_far"


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: r.pop("dataset"), "(top level)"),
        (lambda r: r["dataset"].pop("fingerprint"), "dataset"),
        (lambda r: r.__setitem__("task", "dance"), "task"),
        (lambda r: r["per_seed"][1]["scores"].__setitem__("accuracy", "high"), "per_seed[1].scores.accuracy"),
        (lambda r: r.__setitem__("date", "yesterday"), "date"),
        (lambda r: r.__setitem__("schema_version", 99), "schema_version"),
        (lambda r: r["main_score"].__setitem__("name", "vibes"), "main_score.name"),
        (lambda r: r.__setitem__("seeds", [0, 1, 7]), "seeds"),
        (lambda r: r["aggregate"]["accuracy"].pop("ci_low"), "aggregate.accuracy"),
    ],
)
def test_bad_result_is_rejected_naming_the_field(mutate, field):
    result = make_result()
    mutate(result)
    errors = validation_errors(result)
    assert errors, "the schema accepted a bad result"
    assert errors[0].startswith(f"{field}:"), errors


def test_write_refuses_invalid_result_and_keeps_old_file(tmp_path):
    path = tmp_path / "r.json"
    write_result(path, make_result())
    before = path.read_text()
    bad = make_result()
    bad["n_test"] = 0
    with pytest.raises(ResultError, match=r"r\.json: n_test"):
        write_result(path, bad)
    assert path.read_text() == before


def test_load_results_reports_bad_files_and_keeps_good(tmp_path):
    write_result(tmp_path / "good.json", make_result())
    (tmp_path / "broken.json").write_text("{not json")
    wrong = make_result()
    del wrong["per_seed"][0]["scores"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "wrong.json").write_text(json.dumps(wrong))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / ".r.json.123.tmp.json").write_text("{")  # temporary file of an interrupted write
    good, bad = load_results(tmp_path)
    assert [p.name for p, _ in good] == ["good.json"]
    reasons = {b.path.name: b.reason for b in bad}
    assert set(reasons) == {"broken.json", "wrong.json", "list.json"}
    assert "not valid JSON" in reasons["broken.json"]
    assert reasons["wrong.json"].startswith("per_seed[0]: 'scores' is a required property")
    assert "(top level)" in reasons["list.json"]


def test_nan_scores_are_written_as_null(tmp_path):
    result = make_result()
    result["per_seed"][0]["scores"]["macro_f1"] = float("nan")
    path = write_result(tmp_path / "r.json", result)
    assert read_result(path)["per_seed"][0]["scores"]["macro_f1"] is None
