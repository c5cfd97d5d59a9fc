"""Shared fixtures: audio generated from seeded generators, written where a test wants it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gunshot_bench.rng import derive_rng


def shot_train(seed: object, sample_rate: int = 44_100, duration_s: float = 2.5, n_shots: int = 3,
               decay_s: float = 0.03, level: float = 0.5) -> np.ndarray:
    """Impulses with decaying noise tails on a faint noise floor: a stand-in for gunfire."""
    rng = derive_rng(0, "shot_train", seed)
    n = int(round(sample_rate * duration_s))
    x = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    tail = int(0.25 * sample_rate)
    envelope = np.exp(-np.arange(tail) / (decay_s * sample_rate))
    for t in rng.uniform(0.05, max(0.06, duration_s - 0.3), n_shots):
        i = int(t * sample_rate)
        x[i:i + tail] += (rng.standard_normal(tail) * envelope * level)[: n - i].astype(np.float32)
    return np.clip(x, -1, 1)


def babble(seed: object, sample_rate: int = 44_100, duration_s: float = 2.5, level: float = 0.1) -> np.ndarray:
    """Amplitude-modulated noise: a stand-in for crowd background."""
    rng = derive_rng(0, "babble", seed)
    n = int(round(sample_rate * duration_s))
    t = np.arange(n) / sample_rate
    mod = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(3, 6) * t)
    return (rng.standard_normal(n) * mod * level).astype(np.float32)


def write(path: Path, x: np.ndarray, sample_rate: int = 44_100, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sample_rate, **kwargs)
    return path


@pytest.fixture
def folder_corpus(tmp_path: Path) -> Path:
    """A small `folder` tree: 3 models x 4 recordings (2.5-6.5 s), one category-only folder, crowd noise."""
    root = tmp_path / "corpus"
    for model in ("glock_17", "AK-47", "MP5"):
        for k in range(4):
            write(root / model / f"take{k}.wav", shot_train((model, k), duration_s=2.5 + k))
    for k in range(3):
        write(root / "shotgun" / f"unknown_{k}.wav", shot_train(("shotgun", k), duration_s=2.2))
    for k in range(3):
        write(root / "background" / "crowd" / f"crowd{k}.wav", babble(k, duration_s=4.5))
    return root
