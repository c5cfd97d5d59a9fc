"""Reading a built dataset back as arrays, without torchcodec.

`datasets.load_dataset(DIR, config)` works too (and decodes audio when torchcodec is
installed); this path reads the parquet shards with pyarrow and the WAV bytes with
soundfile, which is what training and evaluation need.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

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
    _require_shards(data_dir, config, split)
    # decoded straight into one array sized from the shards' metadata: stacking a list of clips
    # holds every clip twice at the end (paper's detection training split, 2.1 GiB of waveforms,
    # peaked at 7.4 GiB that way and 5.4 GiB this way in a process without torch imported; with
    # torch imported both peaked at 5.6 GiB: docs/performance.md)
    n_rows = sum(pq.ParquetFile(path).metadata.num_rows for path in shard_paths(data_dir, config, split))
    X = np.empty((n_rows, SEGMENT_SAMPLES), np.float32)
    row, frames = 0, []
    for batch in iter_batches(data_dir, config, split):
        table = batch.to_pandas()
        for item in table.pop("audio"):
            x, sr = decode_wav(item["bytes"])
            if sr != TARGET_SAMPLE_RATE or x.shape[0] != SEGMENT_SAMPLES:
                raise UserError(f"{data_dir}: row {item['path']} holds {x.shape[0]} samples at {sr} Hz, "
                                 f"expected {SEGMENT_SAMPLES} at {TARGET_SAMPLE_RATE}")
            X[row] = x
            row += 1
        frames.append(table)
    if not frames:
        return X[:0], pd.DataFrame()
    return X[:row], pd.concat(frames, ignore_index=True)


def split_seed(data_dir: Path) -> int:
    """The seed the dataset was split with (from `manifest.json`; 0 when absent)."""
    import json

    manifest = Path(data_dir) / "manifest.json"
    if not manifest.is_file():
        return 0
    return int((json.loads(manifest.read_text()).get("parameters") or {}).get("seed", 0))


def load_frame(data_dir: Path, config: str = "clean", split: str = "train") -> pd.DataFrame:
    """`load_arrays`' DataFrame alone: every column but the audio, nothing decoded (a few
    hundred bytes a row, where a decoded clip is 353 KB)."""
    data_dir = Path(data_dir)
    _require_shards(data_dir, config, split)
    columns = [c for c in _columns(data_dir, config, split) if c != "audio"]
    frames = [batch.to_pandas() for batch in iter_batches(data_dir, config, split, columns=columns)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_protocol_arrays(data_dir: Path, config: str = "clean", split: str = "train", protocol: str = "grouped",
                         load=None) -> tuple[np.ndarray, pd.DataFrame]:
    """`load_arrays` under a split protocol: `grouped` reads the split's shards; `segment`
    pools every split of `config` and keeps the rows `split.segment_assignment` gives `split`.

    Args:
        load: `(data_dir, config, split) -> (X, frame)`, e.g. a cache's loader (default
            `load_arrays`).
    """
    from gunshot_bench.dataset.split import check_protocol

    load = load if load is not None else load_arrays
    if check_protocol(protocol) == "grouped":
        return load(data_dir, config, split)
    parts = [load(data_dir, config, s) for s in _splits_with_shards(data_dir, config)]
    masks = _segment_masks(data_dir, [frame for _, frame in parts], split)
    # each split's kept rows, so that the whole config is never copied into one array (paper's
    # detection config is 3.5 GB of waveforms); the same rows in the same order as pooling first
    X = np.concatenate([x[mask] for (x, _), mask in zip(parts, masks)])
    frame = pd.concat([f[mask] for (_, f), mask in zip(parts, masks)], ignore_index=True)
    return X, frame


def load_protocol_frame(data_dir: Path, config: str = "clean", split: str = "train", protocol: str = "grouped",
                        load=None) -> pd.DataFrame:
    """`load_protocol_arrays`' DataFrame alone, nothing decoded (labels for the reference rows).

    Args:
        load: `(data_dir, config, split) -> frame` (default `load_frame`).
    """
    from gunshot_bench.dataset.split import check_protocol

    load = load if load is not None else load_frame
    if check_protocol(protocol) == "grouped":
        return load(data_dir, config, split)
    frames = [load(data_dir, config, s) for s in _splits_with_shards(data_dir, config)]
    masks = _segment_masks(data_dir, frames, split)
    return pd.concat([f[mask] for f, mask in zip(frames, masks)], ignore_index=True)


def _splits_with_shards(data_dir: Path, config: str) -> list[str]:
    from gunshot_bench.dataset.split import SPLITS

    splits = [s for s in SPLITS if shard_paths(Path(data_dir), config, s)]
    if not splits:
        raise FileNotFoundError(f"{data_dir}: no shards for config '{config}'")
    return splits


def _segment_masks(data_dir: Path, frames: list[pd.DataFrame], split: str) -> list[np.ndarray]:
    """Per frame, the rows the segment protocol gives `split`: assigned over all of them pooled."""
    from gunshot_bench.dataset.split import segment_assignment

    pooled = pd.concat(frames, ignore_index=True)
    if len(pooled) == 0:
        return [np.zeros(len(f), bool) for f in frames]
    keep = np.asarray(segment_assignment(pooled, split_seed(data_dir)) == split)
    return np.split(keep, np.cumsum([len(f) for f in frames])[:-1])


# ----------------------------------------------------------------------- streaming (disk-backed rows)

_MAPS = itertools.count()


class DiskArray:
    """Rows of an array kept in a `.npy` file and read on demand, so a training split of any
    size costs the memory of the rows in use (a batch), not of the split.

    Rows are read with `os.pread`, so they pass through the page cache but never stay mapped
    into the process (a `numpy.memmap` would count every page it has touched as resident).
    `X[i]`, `X[a:b]` and `X[int array]` return in-memory arrays; `X[bool mask]` returns a
    `DiskArray` view of the selected rows (a subset without reading it). `np.asarray(X)`
    reads everything, for code that needs the whole array.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype, offset: int, rows: np.ndarray | None = None):
        self.path, self._shape, self.dtype, self._offset = Path(path), tuple(shape), np.dtype(dtype), offset
        self._rows = rows  # row numbers in the file of a view; None: every row
        self._row_bytes = int(np.prod(self._shape[1:], dtype=np.int64)) * self.dtype.itemsize

    @classmethod
    def create(cls, path: Path, shape: tuple[int, ...], dtype) -> DiskArray:
        """A new zero-filled `.npy` file of `shape`; fill it with `write`."""
        np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(shape)).flush()  # header + size only
        with open(path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            (np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0)(f)
            offset = f.tell()
        return cls(path, shape, dtype, offset)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self._shape[1:])

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def __len__(self) -> int:
        return self._shape[0] if self._rows is None else len(self._rows)

    def write(self, start: int, block: np.ndarray) -> None:
        """Write rows `start, start + 1, ...` of the file (not of a view)."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        with open(self.path, "r+b") as f:
            f.seek(self._offset + start * self._row_bytes)
            f.write(block.tobytes())

    def _file_rows(self, index) -> np.ndarray:
        rows = np.arange(len(self))[index]
        return rows if self._rows is None else self._rows[rows]

    def __getitem__(self, index):
        if isinstance(index, np.ndarray) and index.dtype == bool:
            return DiskArray(self.path, self._shape, self.dtype, self._offset, self._file_rows(index))
        rows = self._file_rows(index)
        if np.ndim(rows) == 0:
            return self._read(np.array([rows]))[0]
        return self._read(np.asarray(rows))

    def _read(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self._shape[1:]), self.dtype)
        flat = out.reshape(len(rows), -1).view(np.uint8)
        with open(self.path, "rb") as f:
            fd = f.fileno()
            start = 0
            while start < len(rows):  # runs of consecutive rows are one read
                stop = start + 1
                while stop < len(rows) and rows[stop] == rows[stop - 1] + 1:
                    stop += 1
                size = (stop - start) * self._row_bytes
                data = os.pread(fd, size, self._offset + int(rows[start]) * self._row_bytes)
                flat[start:stop] = np.frombuffer(data, np.uint8).reshape(stop - start, -1)
                start = stop
        return out

    def map_rows(self, fn, row_shape: tuple[int, ...], dtype, chunk: int = 128) -> DiskArray:
        """A new `DiskArray` (beside this one) of `fn` applied to chunks of `chunk` rows: for
        per-row functions (features), equal to `fn` over the whole array."""
        path = self.path.with_name(f"{self.path.stem}-map{next(_MAPS)}.npy")
        out = DiskArray.create(path, (len(self), *row_shape), dtype)
        for start in range(0, len(self), chunk):
            out.write(start, fn(self[start:start + chunk]))
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)


def load_arrays_to_disk(data_dir: Path, config: str, split: str, cache_dir: Path,
                        keep=None) -> tuple[DiskArray, pd.DataFrame]:
    """`load_arrays` with the waveforms decoded one row group at a time into a `DiskArray` in
    `cache_dir` (the same values); `keep(frame) -> bool mask` picks rows before decoding.

    Memory holds one row group of audio and the other columns (a few hundred bytes per row).
    """
    data_dir = Path(data_dir)
    frame = load_frame(data_dir, config, split)
    mask = np.ones(len(frame), bool) if keep is None or len(frame) == 0 else np.asarray(keep(frame), dtype=bool)
    X = DiskArray.create(Path(cache_dir) / f"{config}-{split}-waves.npy", (int(mask.sum()), SEGMENT_SAMPLES), np.float32)
    row, written = 0, 0
    for batch in iter_batches(data_dir, config, split, columns=["audio"]):
        block = []
        for item in batch.column("audio").to_pylist():
            if mask[row]:
                x, sr = decode_wav(item["bytes"])
                if sr != TARGET_SAMPLE_RATE or x.shape[0] != SEGMENT_SAMPLES:
                    raise ValueError(f"{data_dir}: row {item['path']} holds {x.shape[0]} samples at {sr} Hz, "
                                     f"expected {SEGMENT_SAMPLES} at {TARGET_SAMPLE_RATE}")
                block.append(x)
            row += 1
        if block:
            X.write(written, np.stack(block))
            written += len(block)
    return X, frame[mask].reset_index(drop=True)


def _require_shards(data_dir: Path, config: str, split: str) -> None:
    if not shard_paths(data_dir, config, split):
        raise FileNotFoundError(f"{data_dir}: no shards for config '{config}', split '{split}' "
                                f"(build it with `gunshot-bench build`, with the variants it needs)")


def _columns(data_dir: Path, config: str, split: str) -> list[str]:
    return pq.ParquetFile(shard_paths(Path(data_dir), config, split)[0]).schema_arrow.names
