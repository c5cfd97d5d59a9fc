"""Near-duplicate detection: the same audio re-encoded, resampled or re-published elsewhere.

A segment's fingerprint is the sign of the time derivative of band-energy differences
(Haitsma & Kalker 2002, "A highly robust audio fingerprinting system"), which survives
re-encoding, resampling and gain changes but differs by about half its bits between
unrelated sounds. No installed library computes such a fingerprint, hence the few lines
here. Candidate pairs come from locality-sensitive hashing (equal bands of bits), then the
Hamming distance decides, so the cost grows with the number of segments, not its square.
Limits: segments are compared as cut (from the start of each file); the same audio cut at
another offset is not found.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import soxr

#: The fingerprint looks at 150 Hz - 5 kHz (Haitsma-Kalker use 300 Hz - 2 kHz), so it is
#: computed on the signal decimated to 11.025 kHz: a quarter of the FFT work.
FINGERPRINT_RATE = 11_025
N_FFT = 512
HOP = 256
N_BANDS = 17
FMIN_HZ, FMAX_HZ = 150.0, 5000.0
#: Fraction of differing bits below which two segments are near-duplicates (HK use 0.35 for
#: 3 s excerpts under heavy distortion; re-encodes of a 2 s clip stay far below 0.2).
MAX_BIT_ERROR = 0.2
LSH_BITS = 24
#: Frames quieter than this (relative to the loudest frame) carry no fingerprint: their bits
#: are the signs of rounding noise, or all zero in digital silence, so they are masked out.
QUIET_DB = -60.0
#: Two segments are compared only where both have at least this fraction of audible bits.
MIN_ACTIVE = 0.2
#: A bucket this full holds a featureless pattern (e.g. near-silence), not duplicates.
MAX_BUCKET = 64


@functools.cache
def _band_matrix() -> np.ndarray:
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / FINGERPRINT_RATE)
    edges = np.geomspace(FMIN_HZ, FMAX_HZ, N_BANDS + 1)
    return np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges[:-1], edges[1:])], axis=1).astype(np.float32)


@functools.cache
def _window() -> np.ndarray:
    return np.hanning(N_FFT).astype(np.float32)


def fingerprint(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """A mono segment's Haitsma-Kalker fingerprint: packed bits, then the packed mask of audible bits."""
    x = soxr.resample(x, sample_rate, FINGERPRINT_RATE, quality="LQ") if sample_rate != FINGERPRINT_RATE else x
    n_frames = 1 + (len(x) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:n_frames]
    spectrum = np.fft.rfft(frames * _window(), axis=1)
    energy = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32) @ _band_matrix()
    diff = np.diff(energy, axis=1)
    bits = (diff[1:] - diff[:-1]) > 0
    frame_energy = energy.sum(axis=1)
    audible = frame_energy > frame_energy.max() * 10 ** (QUIET_DB / 10) if frame_energy.max() > 0 else frame_energy > 0
    # a bit compares frames t-1 and t: it is audible when both frames are
    mask = np.repeat((audible[1:] & audible[:-1])[:, None], bits.shape[1], axis=1)
    return np.concatenate([np.packbits((bits & mask).ravel()), np.packbits(mask.ravel())])


def bit_error(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of differing bits where both segments are audible; 1.0 when too little is audible."""
    half = a.size // 2
    active = np.unpackbits(a[half:] & b[half:])
    if active.sum() < MIN_ACTIVE * active.size:
        return 1.0
    return float((np.unpackbits(a[:half] ^ b[:half]) & active).sum()) / float(active.sum())


@dataclass(frozen=True)
class DuplicatePair:
    a: str
    b: str
    bit_error: float


def band_keys(fp: np.ndarray) -> list[int]:
    """The locality-sensitive hash keys of a fingerprint: one per band of `LSH_BITS` bits, the
    band's number above its bits, so equal keys mean equal bits in the same band."""
    bits = np.unpackbits(fp[: fp.size // 2])
    n_bands = bits.size // LSH_BITS
    bands = bits[: n_bands * LSH_BITS].reshape(n_bands, LSH_BITS).astype(np.int64)
    values = bands @ (1 << np.arange(LSH_BITS - 1, -1, -1, dtype=np.int64))
    return ((np.arange(n_bands, dtype=np.int64) << LSH_BITS) | values).tolist()


def bucket_pairs(members: list[int]) -> list[tuple[int, int]]:
    """Candidate pairs of one bucket (members in ascending order); none from an overfull bucket."""
    if not 1 < len(members) <= MAX_BUCKET:
        return []
    return [(p, q) for k, p in enumerate(members) for q in members[k + 1:]]


def near_pair(a_id: str, b_id: str, a: np.ndarray, b: np.ndarray,
              max_bit_error: float = MAX_BIT_ERROR) -> DuplicatePair | None:
    """The pair if its fingerprints differ in fewer than `max_bit_error` of their bits, else None."""
    err = bit_error(a, b)
    return DuplicatePair(a_id, b_id, round(err, 4)) if err < max_bit_error else None


def find_near_duplicates(ids: list[str], prints: list[np.ndarray], max_bit_error: float = MAX_BIT_ERROR) -> list[DuplicatePair]:
    """Pairs of segment ids whose fingerprints differ in fewer than `max_bit_error` of their bits.

    Everything in memory; the build runs the same steps over its on-disk index
    (`gunshot_bench.dataset.index`), so its memory does not grow with the corpus.
    """
    buckets: dict[int, list[int]] = defaultdict(list)
    for i, fp in enumerate(prints):
        for key in band_keys(fp):
            buckets[key].append(i)
    candidates = {pair for members in buckets.values() for pair in bucket_pairs(members)}
    pairs = [near_pair(ids[p], ids[q], prints[p], prints[q], max_bit_error) for p, q in sorted(candidates)]
    return [p for p in pairs if p is not None]
