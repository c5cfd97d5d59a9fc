"""End to end: a `folder` tree of generated audio -> build_dataset with every variant ->
`datasets.load_dataset(DIR, config)` offline for crowd_noise, energy and detection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from gunshot_bench.rng import derive_rng
from gunshot_bench.variants import ALL

SR = 44100


def impulse(rng, n, t0_s, level=0.3):
    t = np.arange(n) / SR
    return level * np.where(t >= t0_s, np.exp(-(t - t0_s) / 0.03), 0.0) * rng.standard_normal(n)


def write_tree(root):
    """Gunshot-like impulses under pistol/glock_17 and rifle/ak_47 (6 recordings of 4 s each),
    crowd-like and scream-like noise, and a fireworks confuser, each as several recordings."""
    for model in ("pistol/glock_17", "rifle/ak_47"):
        for i in range(6):
            rng = derive_rng(0, "build-tree", model, i)
            x = np.concatenate([impulse(rng, 2 * SR, rng.uniform(0.2, 1.5)) for _ in range(2)])
            path = root / model / f"take{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, x, SR, subtype="PCM_16")
    for kind, count in (("crowd", 6), ("scream", 3), ("fireworks", 3)):
        for i in range(count):
            rng = derive_rng(0, "build-tree", kind, i)
            t = np.arange(4 * SR) / SR
            if kind == "fireworks":
                x = impulse(rng, t.size, 1.0, 0.5) + 0.001 * rng.standard_normal(t.size)
            else:
                x = 0.05 * (1 + 0.3 * np.sin(2 * np.pi * 3 * t + i)) * rng.standard_normal(t.size)
            path = root / "background" / kind / f"{kind}{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, x, SR, subtype="PCM_16")


LOAD = textwrap.dedent("""
    import json, sys
    import datasets
    out = {}
    for config in sys.argv[2].split(","):
        ds = datasets.load_dataset(sys.argv[1], config)
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
        out[config] = {split: {"rows": d.num_rows, "columns": d.column_names,
                               "first": {k: v for k, v in d[0].items() if k != "audio"} if d.num_rows else None,
                               "wav_head": d[0]["audio"]["bytes"][:4].decode() if d.num_rows else None}
                       for split, d in ds.items()}
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_build_with_all_variants_loads_offline(tmp_path):
    from gunshot_bench.dataset.build import BuildConfig, build_dataset

    write_tree(tmp_path / "tree")
    out = tmp_path / "ds"
    summary = build_dataset(BuildConfig(sources=(("folder", str(tmp_path / "tree")),), out_dir=str(out),
                                        variants=ALL, seed=3), progress=False)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-c", LOAD, str(out), ",".join(ALL)], env=env,
                          capture_output=True, text=True, check=True)
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    manifest = json.loads((out / "manifest.json").read_text())
    for config in ALL:
        for split, info in loaded[config].items():
            assert info["rows"] == manifest["rows"][config][split] == summary.segments[config][split]
            assert info["wav_head"] == "RIFF"
    train = loaded["crowd_noise"]["train"]["first"]
    assert train["source_clip_id"].startswith("folder/") and train["snr_definition"] == "event"
    assert "noise_id" in loaded["crowd_noise"]["test"]["columns"]
    energy = loaded["energy"]["train"]["first"]
    assert energy["energy_mode"] == "gain" and energy["target_lufs"] is None
    assert {"is_gunshot", "detection_kind"} <= set(loaded["detection"]["validation"]["columns"])
    card = (out / "README.md").read_text()
    assert "**`crowd_noise`**" in card and "**`energy`**" in card and "**`detection`**" in card
    assert not (out / "_variants_work").exists()
    # the rows per split of crowd_noise are 5 levels x the clean gunshot segments of that split
    for split, n in manifest["rows"]["crowd_noise"].items():
        assert n == 5 * manifest["rows"]["clean"][split]
    # through the real build too: noise only from the clip's own split, no recording shared
    from gunshot_bench.dataset.shards import iter_rows

    split_of = {r["clip_id"]: (s, r["recording_id"]) for s in ("train", "validation", "test")
                for r in iter_rows(out, "background", s, columns=["clip_id", "recording_id"])}
    heard = {s: set() for s in ("train", "validation", "test")}
    for s in heard:
        for r in iter_rows(out, "crowd_noise", s, columns=["noise_id"]):
            noise_split, recording = split_of[r["noise_id"]]
            assert noise_split == s
            heard[s].add(recording)
    assert heard["train"] and not heard["train"] & (heard["test"] | heard["validation"])


@pytest.mark.slow
def test_two_worker_processes_write_the_same_bytes(tmp_path):
    """Parallel writing is an implementation detail: the shards are byte-identical."""
    import hashlib

    from variants_fixtures import write_stage

    from gunshot_bench.dataset.schema import SPLITS
    from gunshot_bench.dataset.shards import shard_paths
    from gunshot_bench.variants import write_variants

    digests = []
    for workers in (1, 2):
        root = write_stage(tmp_path / f"w{workers}")
        write_variants(root, ALL, 5, progress=False, workers=workers)
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest()
                        for c in ALL for s in SPLITS for p in shard_paths(root, c, s)])
    assert digests[0] == digests[1] and len(digests[0]) >= 9
