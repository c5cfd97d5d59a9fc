"""Frozen copies of the code paths that produced the committed results (main at 4d01bd7).

The training-speed work (issue 14) must not change a single value; its tests run the current
code and these copies side by side and compare bits.
"""

import numpy as np
import scipy.fft
import torch

from gunshot_bench.features import _hann_np, fix_length


def frozen_log_stft(x, dtype=np.float32, batch_size=1, n_fft=1024, hop_length=256):
    """`features.log_stft` as committed at 4d01bd7 (the values of every committed result)."""
    x = fix_length(x)
    single = x.ndim == 1
    x2 = x[None] if single else x
    n, n_samples = x2.shape
    n_bins, n_frames = n_fft // 2, 1 + n_samples // hop_length
    out = np.empty((n, n_bins, n_frames), dtype=dtype)
    chunk = max(1, min(batch_size, n))
    pad = n_fft // 2
    padded = np.zeros((chunk, n_samples + 2 * pad), np.float32)
    frames = np.empty((chunk, n_frames, n_fft), np.float32)
    mag = np.empty((chunk, n_frames, n_fft // 2 + 1), np.float32)
    window = _hann_np(n_fft)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        padded[:m, pad:pad + n_samples] = x2[start:start + m]
        view = np.lib.stride_tricks.sliding_window_view(padded[:m], n_fft, axis=1)[:, ::hop_length]
        np.multiply(view, window, out=frames[:m])
        spec = scipy.fft.rfft(frames[:m], axis=-1, overwrite_x=True, workers=1)
        np.abs(spec, out=mag[:m])
        np.log1p(mag[:m], out=mag[:m])
        out[start:start + m] = mag[:m, :, 1:].transpose(0, 2, 1)
    return out[0] if single else out


def frozen_batch(self, features):
    """`TorchClassifier._batch` as committed at 4d01bd7 (numpy's float16 -> float32 widening)."""
    x = torch.from_numpy(np.asarray(features, dtype=np.float32))
    return ((x - self.stats_.mean) / self.stats_.std).unsqueeze(1)
