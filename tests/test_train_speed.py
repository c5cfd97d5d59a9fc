"""Training is as fast as issue 14 made it and trains the same weights as before, bit for bit.

Each test trains a tiny network twice on the same clips, augmenter and seed: once with the
current code, once with the frozen code paths of 4d01bd7 (`frozen_reference`), and compares
every weight, buffer and history value exactly.
"""

import numpy as np
import pytest
import torch

from frozen_reference import (frozen_batch, frozen_epoch_features, frozen_fit_features, frozen_log_stft,
                              frozen_train_loop, frozen_two_stage_fit)
from gunshot_bench.augment import AugmentConfig, Augmenter
from gunshot_bench.models import get
from gunshot_bench.models import torch_base
from gunshot_bench.models.two_stage import TwoStageAudioResNet
from gunshot_bench.repro import deterministic
from gunshot_bench.rng import derive_rng
from synth_clips import make_clips

#: Every augmentation stage, each clip changed every epoch, so the per-epoch path is exercised.
AUG = AugmentConfig(p=0.8, shift_p=0.5, background_p=0.7, band_p=0.5, resample_p=0.3, gain_p=0.5,
                    codec_p=0.3)
TRAIN = {"batch_size": 8, "max_epochs": 3, "early_stopping_patience": 2}
TINY = {"audioresnet_flat": {"channels": [4, 8], "first_stride": 4, **TRAIN},
        "audioresnet_two_stage": {"channels": [4, 8], "first_stride": 4, **TRAIN},
        "cnn": {"channels": [4, 8], "dense_units": 8, **TRAIN}}


def _data(models, n_per_model, seed):
    y = np.repeat(np.asarray(models), n_per_model)
    X = make_clips(y % 5, seed=seed, tag="train-speed")
    X += 0.01 * derive_rng(seed, "train-speed-noise").standard_normal(X.shape).astype(np.float32)
    return X, y


def _fit(name, X, y, Xv, yv, frozen: bool, monkeypatch):
    background = (0.05 * derive_rng(1, "train-speed-bg").standard_normal((3, X.shape[1]))).astype(np.float32)
    augmenter = Augmenter(AUG, 5, X, [f"clip{i}" for i in range(len(X))], background)
    with monkeypatch.context() as m:
        if frozen:  # every changed path back to its 4d01bd7 code
            m.setattr(torch_base, "log_stft", frozen_log_stft)
            m.setattr(torch_base.TorchClassifier, "_batch", frozen_batch)
            m.setattr(torch_base.TorchClassifier, "fit_features", frozen_fit_features)
            m.setattr(torch_base.TorchClassifier, "_train_loop", frozen_train_loop, raising=False)
            m.setattr(torch_base.TorchClassifier, "_epoch_features", frozen_epoch_features)
            m.setattr(TwoStageAudioResNet, "fit", frozen_two_stage_fit)
        model = get(name, random_state=3, **TINY[name])
        with deterministic(3, threads=1):
            model.fit(X, y, Xv, yv, augmenter=augmenter)
    return model


def _networks(model):
    if hasattr(model, "stage1_"):
        return {"category": model.stage1_.net_,
                **{c: s.net_ for c, s in model.stage2_.items() if hasattr(s, "net_")}}
    return {"net": model.net_}


def _assert_same_model(a, b):
    nets_a, nets_b = _networks(a), _networks(b)
    assert nets_a.keys() == nets_b.keys()
    for key in nets_a:
        sa, sb = nets_a[key].state_dict(), nets_b[key].state_dict()
        assert sa.keys() == sb.keys()
        for name in sa:
            assert torch.equal(sa[name], sb[name]), f"{key}: {name} differs"
    assert a.history_ == b.history_


@pytest.mark.parametrize("name", ["audioresnet_flat", "cnn"])
def test_flat_training_is_bit_identical_to_4d01bd7(name, monkeypatch):
    X, y = _data([0, 13, 24], 6, seed=1)
    Xv, yv = _data([0, 13, 24], 2, seed=2)
    now = _fit(name, X, y, Xv, yv, frozen=False, monkeypatch=monkeypatch)
    before = _fit(name, X, y, Xv, yv, frozen=True, monkeypatch=monkeypatch)
    _assert_same_model(now, before)
    assert len(now.history_) >= 2  # several epochs, each re-augmenting


def test_two_stage_training_is_bit_identical_to_4d01bd7(monkeypatch):
    """Stage 1 and the sub-models now train in lockstep and share each epoch's augmented
    features; 4d01bd7 trained them one after the other, each augmenting on its own."""
    models = [0, 1, 3, 4, 16, 17, 24]  # two machine guns, two pistols, rifles, shotgun: sub-models
    X, y = _data(models, 3, seed=3)
    Xv, yv = _data(models, 1, seed=4)
    calls = []
    original = Augmenter.__call__
    monkeypatch.setattr(Augmenter, "__call__", lambda self, idx, epoch: (calls.append(len(idx)),
                                                                         original(self, idx, epoch))[1])
    now = _fit("audioresnet_two_stage", X, y, Xv, yv, frozen=False, monkeypatch=monkeypatch)
    augmented_now, calls[:] = sum(calls), []
    before = _fit("audioresnet_two_stage", X, y, Xv, yv, frozen=True, monkeypatch=monkeypatch)
    assert len(_networks(now)) >= 3
    _assert_same_model(now, before)
    # the sharing is real: fewer clips went through the augmenter than the sequential fit sent
    assert augmented_now < sum(calls)


def test_networks_in_lockstep_train_as_each_alone():
    """Two CNNs (dropout: torch's global generator) stepped epoch by epoch in turn get the
    weights each gets trained alone: each epoch runs under its own generator state."""
    X, y = _data([0, 13, 24], 4, seed=5)
    Xv, yv = _data([0, 13, 24], 1, seed=6)
    params = {**TINY["cnn"], "dropout": 0.5}
    F, Fv = torch_base.TorchClassifier.features(X), torch_base.TorchClassifier.features(Xv)
    alone = []
    for seed in (1, 2):
        with deterministic(0, threads=1):
            alone.append(get("cnn", random_state=seed, **params).fit_features(F, y, Fv, yv))
    with deterministic(0, threads=1):
        nets = [get("cnn", random_state=seed, **params) for seed in (1, 2)]
        steps = [n.fit_steps(F, y, Fv, yv) for n in nets]
        done = [False, False]
        while not all(done):
            for i in (0, 1):
                if not done[i] and next(steps[i]):
                    done[i] = True
                    for _ in steps[i]:
                        pass
    for a, b in zip(alone, nets):
        _assert_same_model(a, b)
    first = [next(iter(n.net_.state_dict().values())) for n in nets]
    assert not torch.equal(*first)  # two seeds, two networks: the comparison is not trivial
