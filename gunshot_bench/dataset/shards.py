"""Streaming parquet shards: `data/<config>/<split>-NNNNN-of-NNNNN.parquet`.

Rows are written as they come and never held as a whole config in memory, so a build's
memory stays flat however much audio it reads. The `datasets` feature types travel in the
parquet schema metadata (the "huggingface" key that `datasets` itself writes), so
`load_dataset` restores ClassLabel and Audio columns from the files alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

#: ~2000 two-second 16-bit clips is ~350 MB, near the Hub's recommended shard size.
DEFAULT_ROWS_PER_SHARD = 2000
#: Rows per parquet row group (~11 MB of audio): each open writer buffers one, and a build
#: keeps six open (two configs x three splits), so this bounds the build's memory.
ROW_GROUP_ROWS = 64


def arrow_schema(features: datasets.Features) -> pa.Schema:
    """The arrow schema of `features`, carrying them in its metadata for `datasets`."""
    schema = features.arrow_schema
    meta = {"huggingface": json.dumps({"info": {"features": features.to_dict()}})}
    return schema.with_metadata(meta)


def config_dir(root: Path, config: str) -> Path:
    return Path(root) / "data" / config


class ShardWriter:
    """Write rows of one (config, split) into numbered shards; rename them `-of-N` on close.

    A split with no rows gets no shard (`datasets` cannot read a parquet file without row
    groups); the card then declares only the splits that have rows.

    Example:
        >>> with ShardWriter(root, "clean", "train", features) as w:  # doctest: +SKIP
        ...     w.write(row)
    """

    def __init__(self, root: Path, config: str, split: str, features: datasets.Features,
                 rows_per_shard: int = DEFAULT_ROWS_PER_SHARD):
        self.dir = config_dir(root, config)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.split = split
        self.features = features
        self.schema = arrow_schema(features)
        self.rows_per_shard = rows_per_shard
        self.rows = 0
        self._buffer: list[dict] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_shard = 0
        self._paths: list[Path] = []

    def write(self, row: dict) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        while self._buffer:
            if self._writer is None:
                path = self.dir / f"{self.split}-{len(self._paths):05d}.tmp.parquet"
                self._paths.append(path)
                self._writer = pq.ParquetWriter(path, self.schema, compression="snappy")
                self._rows_in_shard = 0
            take = min(len(self._buffer), self.rows_per_shard - self._rows_in_shard)
            batch, self._buffer = self._buffer[:take], self._buffer[take:]
            # Rows arrive in storage form (ClassLabel ids, audio as {"bytes", "path"}); datasets'
            # encode_example would import torchcodec for the Audio column, which is optional here.
            self._writer.write_table(pa.Table.from_pylist(batch, schema=self.schema))
            self._rows_in_shard += take
            if self._rows_in_shard >= self.rows_per_shard:
                self._writer.close()
                self._writer = None

    def close(self) -> list[Path]:
        """Finish the shards and give them their final `-NNNNN-of-NNNNN` names."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        final = []
        for i, path in enumerate(self._paths):
            target = self.dir / f"{self.split}-{i:05d}-of-{len(self._paths):05d}.parquet"
            path.rename(target)
            final.append(target)
        return final

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self._writer is not None:
            self._writer.close()


def shard_paths(root: Path, config: str, split: str) -> list[Path]:
    """The finished shards of one (config, split), in order."""
    return sorted(config_dir(root, config).glob(f"{split}-*-of-*.parquet"))


def iter_batches(root: Path, config: str, split: str, columns: list[str] | None = None,
                 batch_rows: int = ROW_GROUP_ROWS) -> Iterator[pa.RecordBatch]:
    """Stream the rows of one (config, split) as arrow record batches."""
    for path in shard_paths(root, config, split):
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns)


def iter_rows(root: Path, config: str, split: str, columns: list[str] | None = None) -> Iterator[dict]:
    """Stream the rows of one (config, split) as plain dicts (audio as {"bytes", "path"})."""
    for batch in iter_batches(root, config, split, columns):
        yield from batch.to_pylist()


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
