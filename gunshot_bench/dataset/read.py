"""Reading a built dataset back as arrays, without torchcodec.

`datasets.load_dataset(DIR, config)` works too (and decodes audio when torchcodec is
installed); this path reads the parquet shards with pyarrow and the WAV bytes with
soundfile, which is what training and evaluation need.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gunshot_bench.audio import SEGMENT_DURATION_S, TARGET_SAMPLE_RATE, decode_wav
from gunshot_bench.dataset.shards import iter_batches, shard_paths
from gunshot_bench.errors import UserError

SEGMENT_SAMPLES = int(TARGET_SAMPLE_RATE * SEGMENT_DURATION_S)


def load_arrays(data_dir: Path, config: str = "clean", split: str = "train") -> tuple[np.ndarray, pd.DataFrame]:
    """Waveforms float32 [n, 88200] at 44.1 kHz and a DataFrame of every other column.

    Raises:
        FileNotFoundError: the folder holds no shards of that config and split.
    """
    data_dir = Path(data_dir)
    if not shard_paths(data_dir, config, split):
        raise FileNotFoundError(f"{data_dir}: no shards for config '{config}', split '{split}' "
                                f"(build it with `gunshot-bench build`, with the variants it needs)")
    waves, frames = [], []
    for batch in iter_batches(data_dir, config, split):
        table = batch.to_pandas()
        for item in table.pop("audio"):
            x, sr = decode_wav(item["bytes"])
            if sr != TARGET_SAMPLE_RATE or x.shape[0] != SEGMENT_SAMPLES:
                raise UserError(f"{data_dir}: row {item['path']} holds {x.shape[0]} samples at {sr} Hz, "
                                 f"expected {SEGMENT_SAMPLES} at {TARGET_SAMPLE_RATE}")
            waves.append(x)
        frames.append(table)
    if not frames:
        return np.zeros((0, SEGMENT_SAMPLES), np.float32), pd.DataFrame()
    return np.stack(waves) if waves else np.zeros((0, SEGMENT_SAMPLES), np.float32), pd.concat(frames, ignore_index=True)


def split_seed(data_dir: Path) -> int:
    """The seed the dataset was split with (from `manifest.json`; 0 when absent)."""
    import json

    manifest = Path(data_dir) / "manifest.json"
    if not manifest.is_file():
        return 0
    return int((json.loads(manifest.read_text()).get("parameters") or {}).get("seed", 0))


def load_protocol_arrays(data_dir: Path, config: str = "clean", split: str = "train", protocol: str = "grouped",
                         load=None) -> tuple[np.ndarray, pd.DataFrame]:
    """`load_arrays` under a split protocol: `grouped` reads the split's shards; `segment`
    pools every split of `config` and keeps the rows `split.segment_assignment` gives `split`.

    Args:
        load: `(data_dir, config, split) -> (X, frame)`, e.g. a cache's loader (default
            `load_arrays`).
    """
    from gunshot_bench.dataset.split import SPLITS, check_protocol, segment_assignment

    load = load if load is not None else load_arrays
    if check_protocol(protocol) == "grouped":
        return load(data_dir, config, split)
    parts = [load(data_dir, config, s) for s in SPLITS if shard_paths(Path(data_dir), config, s)]
    if not parts:
        raise FileNotFoundError(f"{data_dir}: no shards for config '{config}'")
    X = np.concatenate([p[0] for p in parts])
    frame = pd.concat([p[1] for p in parts], ignore_index=True)
    if len(frame) == 0:
        return X, frame
    keep = segment_assignment(frame, split_seed(data_dir)) == split
    return X[keep], frame[keep].reset_index(drop=True)
