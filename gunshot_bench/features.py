"""Features as pure functions of waveform arrays: study A's log-STFT and MFCCs for the baselines.

Every model takes raw waveforms (float32 `[n, 88200]` at 44.1 kHz) and calls one of these, so
all models see the same input. The functions are batched: the log-STFT frames whole chunks of
clips at once (one FFT call per chunk, no per-clip librosa call) and matches `librosa.stft` to 1e-5.

Example:
    >>> import numpy as np
    >>> log_stft(np.zeros((2, CLIP_SAMPLES), np.float32)).shape
    (2, 512, 345)
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import librosa
import numpy as np
import scipy.fft
import scipy.signal

SAMPLE_RATE = 44_100
CLIP_DURATION_S = 2.0
CLIP_SAMPLES = int(SAMPLE_RATE * CLIP_DURATION_S)  # 88200
N_FFT = 1024
HOP_LENGTH = 256
#: Study A's dataset-wide statistics of the log-STFT. Only a documented default: models
#: standardise with the statistics of their own training split (`FeatureStats.from_features`).
PAPER_MEAN = 0.1877
PAPER_STD = 0.4756

#: Version of the feature code. Bump it whenever any feature function changes its values;
#: every result records it, and the committed-results test refuses results of another version.
#: 2: MFCC dB floor per clip (it was relative to the loudest clip of the whole batch).
FEATURES_VERSION = 2

N_MFCC = 20
MFCC_N_FFT = 2048
MFCC_HOP_LENGTH = 512
MFCC_N_MELS = 40


def fix_length(x: np.ndarray, n_samples: int = CLIP_SAMPLES) -> np.ndarray:
    """Zero-pad or trim the last axis to exactly `n_samples` (study A: exactly 2.0 s)."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] >= n_samples:
        return x[..., :n_samples]
    # by hand, not librosa.util.fix_length (same zeros): librosa.util imports numba, ~60 MB of
    # resident memory that `predict` does not otherwise need (benchmarks/bench_predict_long.py)
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n_samples - x.shape[-1])])


def log_stft_shape(n_samples: int = CLIP_SAMPLES, n_fft: int = N_FFT,
                   hop_length: int = HOP_LENGTH) -> tuple[int, int]:
    """(frequency bins, frames) of `log_stft`: (n_fft // 2, 1 + n_samples // hop_length)."""
    return n_fft // 2, 1 + n_samples // hop_length


def log_stft(x: np.ndarray, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
             batch_size: int = 1, dtype: np.dtype = np.float32, workers: int = 1) -> np.ndarray:
    """Study A's features: log1p of the STFT magnitude with the DC bin dropped.

    Same framing as `librosa.stft(center=True, pad_mode="constant", window="hann")`: a
    periodic Hann window, frames centred on multiples of `hop_length`, so 88200 samples give
    345 frames. Clips are first fixed to exactly 2.0 s.

    Why not `librosa.stft` per clip: this is the same computation batched (frames are a
    strided view, one `scipy.fft.rfft` per chunk of clips) with every buffer allocated once
    and reused, which avoids librosa's per-clip allocations and numpy's slower FFT. It is
    >= 2x faster on CPU than the per-clip reference and matches it to 1e-5
    (`benchmarks/bench_features.py`, `tests/test_fastpaths.py`).

    Args:
        x: waveforms `[n, samples]` (or one waveform `[samples]`) at 44.1 kHz.
        n_fft, hop_length: STFT size and hop.
        batch_size: clips per FFT call (one clip's buffers stay in cache: 1.5 vs 2.3 ms per
            clip with 16, measured on a quiet 2-core machine).
        dtype: output dtype; float16 halves the memory of a cached training set.
        workers: FFT threads. 1 is fastest per clip here (1.6 vs 2.8 ms with 2: a 1024-point
            FFT is too small to pay for scipy's thread hand-off); parallelise over processes.

    Returns:
        `[n, n_fft // 2, frames]` (or `[n_fft // 2, frames]` for one waveform).
    """
    x = fix_length(x)
    single = x.ndim == 1
    x2 = x[None] if single else x
    n, n_samples = x2.shape
    n_bins, n_frames = log_stft_shape(n_samples, n_fft, hop_length)
    out = np.empty((n, n_bins, n_frames), dtype=dtype)
    chunk = max(1, min(batch_size, n))
    pad = n_fft // 2
    padded = np.zeros((chunk, n_samples + 2 * pad), np.float32)  # center=True, constant padding
    frames = np.empty((chunk, n_frames, n_fft), np.float32)
    mag = np.empty((chunk, n_frames, n_fft // 2 + 1), np.float32)
    # a narrower output is cast from a contiguous float32 copy: casting straight from the
    # transposed view reads across cache lines (see `_cast_into`)
    staged = None if out.dtype == np.float32 else np.empty((chunk, n_bins, n_frames), np.float32)
    window = _hann_np(n_fft)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        padded[:m, pad:pad + n_samples] = x2[start:start + m]
        view = np.lib.stride_tricks.sliding_window_view(padded[:m], n_fft, axis=1)[:, ::hop_length]
        np.multiply(view, window, out=frames[:m])
        spec = scipy.fft.rfft(frames[:m], axis=-1, overwrite_x=True, workers=workers)
        np.abs(spec, out=mag[:m])
        np.log1p(mag[:m], out=mag[:m])
        if staged is None:
            out[start:start + m] = mag[:m, :, 1:].transpose(0, 2, 1)
        else:
            staged[:m] = mag[:m, :, 1:].transpose(0, 2, 1)
            _cast_into(staged[:m], out[start:start + m])
    return out[0] if single else out


def _cast_into(src: np.ndarray, dst: np.ndarray, use_torch: bool | None = None) -> None:
    """`dst[...] = src` for a contiguous float32 `src`, with torch's cast when torch is loaded.

    Why: numpy's float32 -> float16 cast converts one value at a time (~4 ns a value here, with
    the transposed read 1.6 ms of a 7 ms float16 `log_stft` clip); torch's is vectorised (F16C),
    0.15 ms. Both are IEEE round-to-nearest-even conversions, so the bits are the same
    (`tests/test_features_speed.py` checks ties, subnormals and overflow). torch is used only
    if some caller already imported it (the torch models): importing it here would cost
    `predict` and the classical models its start-up and memory. `use_torch` forces a path (tests).
    """
    torch = sys.modules.get("torch") if use_torch is None or use_torch else None
    if use_torch and torch is None:
        raise RuntimeError("_cast_into(use_torch=True) needs torch imported")
    if torch is None or dst.dtype != np.float16 or not dst.flags.c_contiguous:
        dst[...] = src
        return
    torch.from_numpy(dst).copy_(torch.from_numpy(src))


@functools.lru_cache(maxsize=4)
def _hann_np(n_fft: int) -> np.ndarray:
    # scipy's, as librosa.filters.get_window returns for a window name (importing
    # librosa.filters would load numba: see `fix_length`)
    window = scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)
    window.flags.writeable = False
    return window


@dataclass(frozen=True)
class FeatureStats:
    """Scalar mean and standard deviation used to standardise features.

    Study A standardises with one dataset-wide mean and std. Here they are computed once from
    the TRAINING split and stored with the model, so validation and test data never leak in.
    """

    mean: float = PAPER_MEAN
    std: float = PAPER_STD

    def __post_init__(self):
        if not np.isfinite(self.mean) or not np.isfinite(self.std) or self.std <= 0:
            raise ValueError(f"FeatureStats needs a finite mean and a positive std, got "
                             f"mean={self.mean}, std={self.std}")

    @classmethod
    def from_features(cls, features: np.ndarray, chunk: int = 64) -> "FeatureStats":
        """Mean and std over all values, accumulated in float64 chunk by chunk."""
        total, total_sq, count = 0.0, 0.0, 0
        for start in range(0, len(features), chunk):
            block = np.asarray(features[start:start + chunk], dtype=np.float64)
            total += block.sum()
            total_sq += np.square(block).sum()
            count += block.size
        if count == 0:
            raise ValueError("cannot compute feature statistics of an empty training set")
        mean = total / count
        std = float(np.sqrt(max(total_sq / count - mean**2, 0.0)))
        return cls(float(mean), std if std > 0 else 1.0)

    def apply(self, features: np.ndarray) -> np.ndarray:
        """Standardised float32 copy of `features`."""
        return ((np.asarray(features, dtype=np.float32) - np.float32(self.mean))
                / np.float32(self.std))


def mfcc_frames(x: np.ndarray, n_mfcc: int = N_MFCC, n_fft: int = MFCC_N_FFT,
                hop_length: int = MFCC_HOP_LENGTH, n_mels: int = MFCC_N_MELS) -> np.ndarray:
    """MFCC frame sequences `[n, frames, n_mfcc]` (librosa, batched over clips).

    The frame axis comes before the coefficient axis because GMMs and HMMs take one
    observation per row. Clips go through librosa `_MFCC_CHUNK` at a time: librosa keeps the
    whole complex STFT and mel power of its input, ~2.8 MB per clip, so one call on the
    `paper` detection split (5,762 clips) needed 16 GB and was killed for lack of memory.
    """
    x = fix_length(x)
    if x.ndim == 1:
        return _mfcc_frames(x, n_mfcc, n_fft, hop_length, n_mels)
    parts = [_mfcc_frames(x[s:s + _MFCC_CHUNK], n_mfcc, n_fft, hop_length, n_mels)
             for s in range(0, len(x), _MFCC_CHUNK)]
    if not parts:  # no clips: an empty array of the right frame and coefficient counts
        one = _mfcc_frames(np.zeros(x.shape[-1], np.float32), n_mfcc, n_fft, hop_length, n_mels)
        return np.zeros((0, *one.shape), np.float32)
    return np.concatenate(parts)


_MFCC_CHUNK = 256


@functools.lru_cache(maxsize=4)
def _mel_basis(n_fft: int, n_mels: int) -> np.ndarray:
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=n_fft, n_mels=n_mels)
    basis.flags.writeable = False
    return basis


def _mfcc_frames(x, n_mfcc, n_fft, hop_length, n_mels) -> np.ndarray:
    """librosa's MFCC (`librosa.feature.mfcc` defaults), computed so that batching cannot change it.

    Why not `librosa.feature.mfcc(y=x)` on the batch: (1) its `power_to_db` floors at top_db
    (80 dB) below the loudest value of the WHOLE input array, so a quiet clip's coefficients
    depended on the loudest clip batched with it; (2) its mel projection is one einsum over the
    batch, whose BLAS blocking (hence rounding) depends on the batch size. The STFT stays
    batched (per frame, so exact); the mel projection and the dB floor are taken clip by clip.
    """
    single = x.ndim == 1
    x2 = x[None] if single else x
    power = np.abs(librosa.stft(x2, n_fft=n_fft, hop_length=hop_length)) ** 2
    basis = _mel_basis(n_fft, n_mels)
    db = np.stack([librosa.power_to_db(basis @ p) for p in power])
    mfcc = np.stack([librosa.feature.mfcc(S=d, n_mfcc=n_mfcc) for d in db])
    out = np.ascontiguousarray(np.swapaxes(mfcc, -1, -2), dtype=np.float32)
    return out[0] if single else out


def mfcc_stats(x: np.ndarray, **mfcc_kwargs) -> np.ndarray:
    """Per-clip MFCC statistics `[n, 4 * n_mfcc]`: mean and std of the MFCCs and their deltas.

    A fixed-length summary for the classifiers that need one vector per clip (SVM, LDA).
    """
    frames = np.swapaxes(mfcc_frames(x, **mfcc_kwargs), -1, -2)  # [..., n_mfcc, frames]
    delta = librosa.feature.delta(frames, axis=-1)
    parts = [frames.mean(-1), frames.std(-1), delta.mean(-1), delta.std(-1)]
    return np.concatenate(parts, axis=-1).astype(np.float32)
