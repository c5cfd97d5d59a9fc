"""Bit-for-bit reproducibility: the thread count comes from the run's config, `train` and the
leaderboard (worker processes) train identical models, results record the code that made them,
and the segment protocol splits the same rows reproducibly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.dataset.split import segment_assignment
from gunshot_bench.features import FEATURES_VERSION
from gunshot_bench.protocols.leaderboard import run_leaderboard
from gunshot_bench.repro import code_provenance, deterministic
from gunshot_bench.sim import synthesize_corpus
from gunshot_bench.tasks import get_task
from gunshot_bench.train import load_baseline, load_run, load_task_split, train_run

CNN = {"max_epochs": 2, "early_stopping_patience": 2, "channels": [4, 8, 8], "dense_units": 16, "batch_size": 16}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    synthesize_corpus("tiny", root / "corpus", seed=0, progress=False, workers=1)
    build_dataset(BuildConfig(sources=(("sim", str(root / "corpus")),), out_dir=str(root / "data"), seed=0,
                              variants=("detection",), workers=1), progress=False)
    return root / "data"


def test_deterministic_fixes_threads_and_restores_the_callers_state():
    torch.set_num_threads(2)
    np.random.seed(123)  # noqa: NPY002 - the caller's global state, which must survive
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    with deterministic(5, threads=1):
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
        first = np.random.random()  # noqa: NPY002
    with deterministic(5, threads=1):
        assert np.random.random() == first  # noqa: NPY002 - seeded from the run's seed
    assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    torch.set_num_threads(1)


def test_train_and_leaderboard_workers_give_identical_predictions(tiny_data, tmp_path):
    """Issue 11: `train` in a process with 2 threads and the leaderboard's 2 worker processes
    trained different CNN detectors from one seed; the run's config now fixes the threads."""
    task = get_task("detection")
    X_test, _, _ = load_task_split(tiny_data, task, "test")
    torch.set_num_threads(2)  # the caller's setting must not matter
    try:
        # the entry's own settings, as `train --baseline cnn` uses them (augmentation included)
        entry = load_baseline("cnn", profile="small")
        direct = train_run(tiny_data, "cnn", "detection", 0, tmp_path / "direct",
                           overrides={**entry["overrides"], **CNN}, progress=False)
    finally:
        torch.set_num_threads(1)
    # two seeds, two workers: the leaderboard trains in spawned worker processes
    board = run_leaderboard(tiny_data, "cnn", [0, 1], tmp_path / "board", profile="small", train_overrides=CNN,
                            tasks=["detection"], protocols=["grouped"], references=False, render=False,
                            progress=False, workers=2, runs_dir=tmp_path / "runs")
    assert board.failed == []
    via_board = load_run(tmp_path / "runs" / "cnn" / "detection" / "seed0").model
    np.testing.assert_array_equal(via_board.predict_proba(X_test), direct.model.predict_proba(X_test))
    config = load_run(tmp_path / "direct").config
    assert config["threads"] == 1 and config["protocol"] == "grouped"
    assert config["provenance"]["features_version"] == FEATURES_VERSION


def test_provenance_names_the_code_and_libraries():
    prov = code_provenance()
    assert prov["features_version"] == FEATURES_VERSION
    assert set(prov["libraries"]) >= {"torch", "numpy", "scikit-learn", "librosa", "hmmlearn"}
    assert prov["libraries"]["torch"] == torch.__version__
    assert prov["git_commit"] is None or len(prov["git_commit"]) == 40
    assert (prov["git_commit"] is None) == (prov["git_dirty"] is None)


def _frame(n_per_model: dict[int, int], variants: int = 1) -> pd.DataFrame:
    rows = []
    for model, n in n_per_model.items():
        for k in range(n):
            for v in range(variants):
                rows.append({"source": "sim", "rel_path": f"m{model}/r{k}.wav", "segment_index": 0, "model": model,
                             "category": 0, "is_gunshot": True, "label_raw": str(model), "variant": v})
    return pd.DataFrame(rows)


def test_segment_split_is_stratified_70_15_15_and_stable():
    frame = _frame({0: 100, 1: 20, 2: 3, 3: 1})
    split = segment_assignment(frame, seed=0)
    counts = pd.crosstab(frame["model"], split)
    assert counts.loc[0].to_dict() == {"test": 15, "train": 70, "validation": 15}
    assert counts.loc[1].to_dict() == {"test": 3, "train": 14, "validation": 3}
    assert counts.loc[2].to_dict() == {"test": 1, "train": 1, "validation": 1}  # >= 3: every split
    assert counts.loc[3, "train"] == 1
    np.testing.assert_array_equal(segment_assignment(frame, seed=0), split)  # same seed, same split
    assert (segment_assignment(frame, seed=1) != split).any()
    # adding segments of another model moves no existing segment
    more = pd.concat([frame, _frame({9: 30})], ignore_index=True)
    np.testing.assert_array_equal(segment_assignment(more, seed=0)[:len(frame)], split)


def test_segment_split_keeps_a_segments_variants_together():
    frame = _frame({0: 40, 1: 40}, variants=3)
    split = segment_assignment(frame, seed=0)
    per_segment = pd.Series(split).groupby(frame["rel_path"] + frame["model"].astype(str)).nunique()
    assert (per_segment == 1).all()


def test_segment_protocol_reads_the_same_rows(tiny_data):
    task = get_task("model")
    grouped = sorted(cid for s in ("train", "validation", "test")
                     for cid in load_task_split(tiny_data, task, s)[2]["clip_id"])
    segment = sorted(cid for s in ("train", "validation", "test")
                     for cid in load_task_split(tiny_data, task, s, "segment")[2]["clip_id"])
    assert grouped == segment


def test_the_segment_protocol_reads_each_split_apart_with_the_pooled_rows_and_order(tiny_data):
    """`load_protocol_arrays` keeps each split's rows before joining them (the whole config is
    never one array): the same waveforms and rows, in the same order, as pooling every split
    first; `load_protocol_frame` gives the same rows without decoding a clip."""
    from gunshot_bench.dataset.read import load_arrays, load_frame, load_protocol_arrays, load_protocol_frame

    parts = [load_arrays(tiny_data, "detection", s) for s in ("train", "validation", "test")]
    pooled_X = np.concatenate([x for x, _ in parts])
    pooled = pd.concat([f for _, f in parts], ignore_index=True)
    assignment = segment_assignment(pooled, seed=0)
    for split in ("train", "validation", "test"):
        X, frame = load_protocol_arrays(tiny_data, "detection", split, "segment")
        keep = assignment == split
        assert 0 < len(frame) < len(pooled)
        np.testing.assert_array_equal(X, pooled_X[keep])
        pd.testing.assert_frame_equal(frame, pooled[keep].reset_index(drop=True))
        pd.testing.assert_frame_equal(load_protocol_frame(tiny_data, "detection", split, "segment"), frame)
        pd.testing.assert_frame_equal(load_frame(tiny_data, "detection", split), parts[
            ("train", "validation", "test").index(split)][1])
