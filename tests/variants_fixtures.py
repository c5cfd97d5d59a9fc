"""A tiny staged build (clean + background shards) written directly with the shard writer.

Gunshot segments are impulses with a decaying tail; noise recordings are long modulated noise
cut into consecutive 2 s segments (so runs are contiguous, as the build's are).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gunshot_bench.audio import encode_wav, pcm_sha256
from gunshot_bench.dataset.schema import SPLITS, clean_features
from gunshot_bench.dataset.shards import ShardWriter
from gunshot_bench.rng import derive_rng
from gunshot_bench.taxonomy import CATEGORIES, MODELS

SR = 44100
SEG = 2 * SR


def shot(key: str, t0_s: float = 0.6, level: float = 0.3) -> np.ndarray:
    rng = derive_rng(0, "variants-fixture", key)
    t = np.arange(SEG) / SR
    envelope = np.where(t >= t0_s, np.exp(-(t - t0_s) / 0.03), 0.0)
    return level * envelope * rng.standard_normal(SEG)


def noise_recording(key: str, n_segments: int, level: float = 0.03) -> np.ndarray:
    rng = derive_rng(0, "variants-fixture", key)
    t = np.arange(n_segments * SEG) / SR
    return level * (1 + 0.4 * np.sin(2 * np.pi * 2.0 * t)) * rng.standard_normal(t.size)


def _row(source, rel_path, label_raw, recording_id, index, x, gunshot, category=None, model=None):
    x = np.round(np.clip(x, -1, 32767 / 32768) * 32768) / 32768  # as stored: 16-bit
    clip_id = f"{source}/{rel_path}#{index}"
    return {
        "audio": {"bytes": encode_wav(x), "path": clip_id.replace("/", "__") + ".wav"},
        "category": CATEGORIES.index(category) if category else -1,
        "model": MODELS.index(model) if model else -1,
        "is_gunshot": int(gunshot),  # ClassLabel id
        "label_raw": label_raw,
        "clip_id": clip_id,
        "source": source,
        "rel_path": rel_path,
        "recording_id": f"{source}:{rel_path.rsplit('.', 1)[0]}",
        "segment_index": index,
        "start_s": 2.0 * index,
        "orig_sample_rate": SR,
        "orig_channels": 1,
        "licence": "test",
        "segment_sha256": pcm_sha256(x),
    }


def write_stage(root: Path, extra_background: dict[str, list[tuple]] | None = None,
                silent_noise: bool = False) -> Path:
    """clean: per split 2 recordings x 2 segments; background per split: crowd (3 segments),
    scream (2), fireworks (1, a confuser, not noise) and a user `--noise` folder (2)."""
    features = clean_features()
    for split in SPLITS:
        with ShardWriter(root, "clean", split, features) as w:
            for r, (cat, model, folder) in enumerate([("pistol", "Glock 17", "glock_17"), ("rifle", "AK-47", "ak_47")]):
                for i in range(2):
                    rel = f"{cat}/{folder}/{split}{r}.wav"
                    x = shot(f"{split}/{r}/{i}", t0_s=0.3 + 0.5 * i, level=0.2 + 0.1 * r)
                    w.write(_row("folder", rel, folder, None, i, x, True, cat, model))
        with ShardWriter(root, "background", split, features) as w:
            specs = [("folder", f"background/crowd/{split}_c.wav", "background", 3),
                     ("folder", f"background/scream/{split}_s.wav", "background", 2),
                     ("folder", f"background/fireworks/{split}_f.wav", "fireworks", 1),
                     ("noise", f"free-sound/{split}_n.wav", "free-sound", 2)]
            specs += (extra_background or {}).get(split, [])
            for source, rel, label, n in specs:
                if "fireworks" in rel:
                    audio = shot(rel, 1.0, 0.5) + 0.001 * noise_recording(rel, 1)
                else:
                    audio = noise_recording(rel, n)
                if silent_noise and "scream" in rel:
                    audio = np.zeros_like(audio)
                for i in range(n):
                    w.write(_row(source, rel, label, None, i, audio[i * SEG:(i + 1) * SEG], False))
    return root
