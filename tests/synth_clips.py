"""Test audio for the model tests: seeded, class-dependent gunshot-like clips.

Each clip is an impulse with a decaying tail of band-limited noise over a quiet noise floor;
the band centre and the decay time depend on the class, so a model that works separates the
classes easily. Every draw comes from `derive_rng`.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

from gunshot_bench.features import CLIP_SAMPLES, SAMPLE_RATE
from gunshot_bench.rng import derive_rng

BAND_CENTRES_HZ = (400.0, 900.0, 2000.0, 4500.0, 9000.0, 14000.0)


def shot(rng: np.random.Generator, cls: int, n_samples: int, amplitude: float = 0.8) -> np.ndarray:
    """One shot: band-limited noise burst with an exponential decay, starting at sample 0."""
    centre = BAND_CENTRES_HZ[cls % len(BAND_CENTRES_HZ)]
    tau_s = 0.03 + 0.05 * (cls % 3)
    t = np.arange(n_samples) / SAMPLE_RATE
    sos = butter(4, [centre / 1.4, min(centre * 1.4, 20_000.0)], btype="band", fs=SAMPLE_RATE,
                 output="sos")
    tail = sosfilt(sos, rng.standard_normal(n_samples))
    tail = tail / (np.abs(tail).max() + 1e-12) * np.exp(-t / tau_s)
    return (amplitude * tail).astype(np.float32)


def make_clips(labels, seed: int = 0, tag: str = "clips") -> np.ndarray:
    """Clips `[len(labels), 88200]` float32, one per label, each with one shot of its class."""
    out = np.zeros((len(labels), CLIP_SAMPLES), np.float32)
    for i, cls in enumerate(labels):
        rng = derive_rng(seed, tag, i)
        onset = int(rng.uniform(0.1, 1.0) * SAMPLE_RATE)
        out[i] = 0.003 * rng.standard_normal(CLIP_SAMPLES)
        s = shot(rng, int(cls), CLIP_SAMPLES - onset, amplitude=rng.uniform(0.4, 0.9))
        out[i, onset:] += s
    return out


def make_dataset(n_per_class: int, classes, seed: int = 0, tag: str = "data"):
    """(X, y) with `n_per_class` clips of each class in `classes`, shuffled deterministically."""
    y = np.repeat(np.asarray(classes, dtype=np.int64), n_per_class)
    y = y[derive_rng(seed, tag, "order").permutation(len(y))]
    band = {c: i for i, c in enumerate(classes)}
    return make_clips([band[c] for c in y], seed, tag), y


def fake_split(models, n_per_model: int, seed: int, split: str, background: int = 0):
    """(waveforms, frame) shaped like `dataset.read.load_arrays` output for a fake dataset.

    Each firearm model id gets its own sound (band index = position in `models`); `background`
    adds that many non-gunshot rows (quiet noise) with category and model -1.
    """
    import pandas as pd

    from gunshot_bench.models.two_stage import MODEL_CATEGORY

    X, y = make_dataset(n_per_model, list(models), seed=seed, tag=split)
    rows = [{"category": int(MODEL_CATEGORY[m]), "model": int(m), "is_gunshot": 1} for m in y]
    if background:
        noise = np.stack([0.01 * derive_rng(seed, split, "bg", i).standard_normal(CLIP_SAMPLES)
                          for i in range(background)]).astype(np.float32)
        X = np.concatenate([X, noise])
        rows += [{"category": -1, "model": -1, "is_gunshot": 0}] * background
    frame = pd.DataFrame(rows)
    frame["clip_id"] = [f"fake/{split}/{i}.wav#0" for i in range(len(frame))]
    frame["recording_id"] = frame["clip_id"]
    return X, frame
