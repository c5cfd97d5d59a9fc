"""Streaming training (issue 14 part 4): waveforms and features on disk, read a batch at a time,
give the same model as the in-memory path (same samples, order and batches)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.dataset.read import DiskArray, load_arrays, load_arrays_to_disk
from gunshot_bench.train import train_run
from tests.conftest import shot_train, write

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def five_categories(tmp_path_factory) -> Path:
    """A built dataset: one model per category, 4 recordings each (every split gets one)."""
    root = tmp_path_factory.mktemp("stream")
    for model in ("M249", "glock_17", "AK-47", "Benelli_Nova", "MP5"):
        for k in range(4):
            write(root / "corpus" / model / f"take{k}.wav", shot_train((model, k), duration_s=4.5))
    build_dataset(BuildConfig(sources=(("folder", str(root / "corpus")),), out_dir=str(root / "ds"), workers=1),
                  progress=False)
    return root / "ds"


def test_disk_rows_hold_the_decoded_waveforms(five_categories, tmp_path):
    X, frame = load_arrays(five_categories, "clean", "train")
    D, frame_d = load_arrays_to_disk(five_categories, "clean", "train", tmp_path)
    assert isinstance(D, DiskArray) and D.shape == X.shape and len(X) > 10
    np.testing.assert_array_equal(D[:], X)
    np.testing.assert_array_equal(D[np.array([0, 2, 3])], X[[0, 2, 3]])
    assert frame_d.equals(frame)
    keep = frame["segment_index"].to_numpy() == 0
    np.testing.assert_array_equal(load_arrays_to_disk(five_categories, "clean", "train", tmp_path,
                                                      lambda f: f["segment_index"] == 0)[0][:], X[keep])


@pytest.mark.parametrize("model, task", [("cnn", "category"), ("audioresnet_two_stage", "two_stage")])
def test_streamed_training_gives_the_in_memory_model(five_categories, tmp_path, model, task):
    over = {"max_epochs": 2, "batch_size": 8}
    a = train_run(five_categories, model, task, 1, tmp_path / "memory", over, progress=False)
    b = train_run(five_categories, model, task, 1, tmp_path / "stream", over, progress=False, stream=True)
    nets = ([(a.model.net_, b.model.net_)] if task != "two_stage" else
            [(a.model.stage1_.net_, b.model.stage1_.net_)]
            + [(a.model.stage2_[c].net_, b.model.stage2_[c].net_) for c in a.model.stage2_
               if hasattr(a.model.stage2_[c], "net_")])
    assert len(nets) >= 1
    for net_a, net_b in nets:
        sa, sb = net_a.state_dict(), net_b.state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k
    assert a.metrics == b.metrics
    X, _ = load_arrays(five_categories, "clean", "test")
    np.testing.assert_array_equal(a.model.predict_proba(X), b.model.predict_proba(X))
    assert not list(Path(tmp_path).glob("**/*.npy"))


def test_streaming_refuses_the_segment_protocol(five_categories, tmp_path):
    with pytest.raises(ValueError, match="grouped protocol"):
        train_run(five_categories, "cnn", "category", 0, tmp_path / "r", {"max_epochs": 1}, progress=False,
                  stream=True, protocol="segment")
