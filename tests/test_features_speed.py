"""The training-speed changes of issue 14 leave every value bit for bit as it was.

`log_stft` is compared with a frozen copy of the implementation that produced the committed
results (features version 2), bit for bit, in float32 and float16, with and without torch's
float16 cast; the cast itself on the values where two conversions could disagree (ties,
subnormals, overflow).
"""

import sys

import numpy as np
import pytest
import torch  # noqa: F401 - loaded, so log_stft takes torch's cast unless a test removes it

from frozen_reference import frozen_log_stft as _frozen_log_stft
from gunshot_bench.features import CLIP_SAMPLES, SAMPLE_RATE, _cast_into, log_stft
from gunshot_bench.rng import derive_rng


def _clips(n, seed):
    """Shots (a decaying broadband burst at a random onset and level) in noise, one silent clip
    and one full-scale clip: the dynamic range the features meet."""
    rng = derive_rng(seed, "features_speed")
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    X = 10 ** rng.uniform(-4, -2, (n, 1)) * rng.standard_normal((n, CLIP_SAMPLES))
    for i in range(n):
        onset = rng.uniform(0.05, 1.8)
        env = np.where(t >= onset, np.exp(-(t - onset) / rng.uniform(0.01, 0.3)), 0.0)
        X[i] += rng.uniform(0.05, 0.99) * env * rng.standard_normal(CLIP_SAMPLES)
    X[0] = 0.0
    X[-1] = np.clip(X[-1] * 50, -1.0, 1.0)
    return X.astype(np.float32)


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    view = np.uint16 if a.dtype == np.float16 else np.uint32
    assert np.array_equal(a.view(view), b.view(view))


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("n, batch_size", [(6, 1), (5, 2), (3, 16)])
def test_log_stft_is_bit_identical_to_the_committed_one(dtype, n, batch_size):
    X = _clips(n, seed=n)
    ref = _frozen_log_stft(X, dtype=dtype, batch_size=batch_size)
    assert float(ref.astype(np.float32).max()) > 2.0  # the bursts are in the comparison
    _same_bits(log_stft(X, dtype=dtype, batch_size=batch_size), ref)
    _same_bits(log_stft(X[1], dtype=dtype), _frozen_log_stft(X[1], dtype=dtype))


def test_float16_features_are_the_same_without_torch(monkeypatch):
    """`predict` and the classical models run without torch: numpy's cast, the same bits."""
    X = _clips(3, seed=7)
    with_torch = log_stft(X, dtype=np.float16)
    monkeypatch.setitem(sys.modules, "torch", None)
    without = log_stft(X, dtype=np.float16)
    _same_bits(with_torch, without)
    _same_bits(without, _frozen_log_stft(X, dtype=np.float16))


def test_torch_and_numpy_float16_casts_agree_on_the_hard_values():
    """Ties between two float16 values, subnormals, the overflow threshold, signed zeros and
    infinities: the two round-to-nearest-even casts give the same bits."""
    halves = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float32)  # every finite >= 0
    ties = (halves[:-1].astype(np.float64) + halves[1:]) / 2  # exact midpoints, representable in float32
    above, below = np.nextafter(ties.astype(np.float32), np.float32(np.inf)), np.nextafter(
        ties.astype(np.float32), np.float32(0))
    rng = np.random.default_rng(0)
    wide = (10.0 ** rng.uniform(-12, 6, 200_000)).astype(np.float32)
    edge = np.array([0.0, -0.0, 65504.0, 65519.99, 65520.0, 1e9, np.inf, -np.inf, 6e-8, 3e-8, 2.9e-8,
                     -1.5, 1e-45], np.float32)
    src = np.concatenate([halves, ties.astype(np.float32), above, below, wide, -wide, edge])
    assert np.all(ties.astype(np.float32) == ties)  # the ties really are ties
    src = np.ascontiguousarray(src)
    by_torch, by_numpy = np.empty(src.shape, np.float16), np.empty(src.shape, np.float16)
    with np.errstate(over="ignore"):  # 65520 and above become inf: that is the point
        _cast_into(src, by_torch, use_torch=True)
        _cast_into(src, by_numpy, use_torch=False)
        _same_bits(by_numpy, src.astype(np.float16))
    _same_bits(by_torch, by_numpy)


def test_cast_falls_back_to_numpy_for_other_layouts():
    src = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    dst = np.empty((4, 3), np.float16).T  # not C-contiguous
    _cast_into(src, dst)
    _same_bits(np.ascontiguousarray(dst), src.astype(np.float16))
