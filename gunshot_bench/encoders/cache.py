"""Embeddings cached on disk per (encoder, clip content), so probes train in seconds.

An embedding is a pure function of (encoder weights, clip), so the cache is addressed by
exactly that: `<root>/<encoder cache_key>/<shard>.npz`, each shard holding the content hashes
(BLAKE2b of the float32 samples) of the clips it embedded and their embeddings. A dataset is
its clips, so this is a cache per (encoder, dataset fingerprint) that also shares clips between
datasets, splits and tasks (category, model and two-stage reuse one embedding per clip), and a
changed dataset re-embeds exactly its changed clips. Shards are written atomically; a lock
file stops two leaderboard workers from embedding the same clips at once.

The root is `$GUNSHOT_BENCH_CACHE/embeddings` when that is set, else
`~/.cache/gunshot-bench/embeddings`. Deleting it is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np

from gunshot_bench.audio import resample
from gunshot_bench.encoders.base import Encoder

try:  # POSIX advisory lock; elsewhere concurrent workers may embed the same clips twice
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CACHE_ENV = "GUNSHOT_BENCH_CACHE"
SOURCE_RATE = 44100
#: Clips embedded per lock and shard (aiSFX: ~10 s of one core).
CHUNK = 64


def default_root() -> Path:
    """Where embeddings are cached unless a model's `cache_dir` says otherwise."""
    base = os.environ.get(CACHE_ENV)
    return (Path(base) if base else Path.home() / ".cache" / "gunshot-bench") / "embeddings"


def clip_keys(waveforms: np.ndarray) -> np.ndarray:
    """Content hash (32 hex characters) of each clip's float32 samples."""
    # Row by row, so a float64 split is never copied whole (same bytes as converting it at once).
    rows = (np.ascontiguousarray(row, dtype=np.float32) for row in np.atleast_2d(np.asarray(waveforms)))
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in rows], dtype="<U32")


class EmbeddingCache:
    """The on-disk embeddings of one encoder (see the module docstring).

    Attributes:
        directory: `<root>/<encoder cache_key>`.
        embedded: clips this object has sent to the encoder (for tests and benchmarks).
    """

    def __init__(self, encoder: Encoder, root: str | Path | None = None):
        self.encoder = encoder
        self.directory = Path(root if root is not None else default_root()) / encoder.cache_key
        self._table: dict[str, np.ndarray] = {}
        self._read_shards: set[str] = set()
        self.embedded = 0

    @contextlib.contextmanager
    def _lock(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _refresh(self) -> None:
        for path in sorted(self.directory.glob("*.npz")):
            if path.name in self._read_shards or path.name.startswith("."):  # skip shards being written
                continue
            with np.load(path, allow_pickle=False) as shard:
                for key, row in zip(shard["keys"], shard["embeddings"]):
                    self._table[str(key)] = row
            self._read_shards.add(path.name)

    def _write(self, keys: np.ndarray, embeddings: np.ndarray) -> None:
        name = hashlib.blake2b("".join(keys).encode(), digest_size=12).hexdigest() + ".npz"
        tmp = self.directory / f".{name}.{os.getpid()}.tmp.npz"
        np.savez(tmp, keys=keys, embeddings=embeddings.astype(np.float32))
        os.replace(tmp, self.directory / name)
        self._read_shards.add(name)

    def _missing(self, keys: np.ndarray) -> dict[str, int]:
        todo: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in self._table and k not in todo:
                todo[k] = i
        return todo

    def embed(self, waveforms: np.ndarray, sample_rate: int = SOURCE_RATE) -> np.ndarray:
        """Embeddings `[n, embedding_size]` of clips at `sample_rate`, computing only uncached clips.

        Clips are resampled to the encoder's rate first (soxr, deterministic). Cached clips are
        read without the lock (shards appear atomically); missing ones are embedded in chunks of
        `CHUNK` clips, each under the lock and saved as its own shard, so a worker that only
        reads never waits behind a long embedding pass and an interrupted pass keeps its work.
        """
        keys = clip_keys(waveforms)
        if len(keys) == 0:
            return np.zeros((0, self.encoder.embedding_size), np.float32)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._refresh()
        todo = list(self._missing(keys).items())
        for s in range(0, len(todo), CHUNK):
            with self._lock():
                self._refresh()  # another worker may have embedded some meanwhile
                chunk = [(k, i) for k, i in todo[s:s + CHUNK] if k not in self._table]
                if not chunk:
                    continue
                # Index first, then convert: converting the whole split per chunk held a second
                # copy of every clip (11 GB on the `paper` detection split).
                X = np.asarray(np.asarray(waveforms)[[i for _, i in chunk]], dtype=np.float32)
                if sample_rate != self.encoder.sample_rate:
                    X = np.stack([resample(x, sample_rate, self.encoder.sample_rate) for x in X])
                E = np.asarray(self.encoder.embed(X), dtype=np.float32)
                self.embedded += len(X)
                new_keys = np.array([k for k, _ in chunk], dtype="<U32")
                self._write(new_keys, E)
                self._table.update(zip(new_keys.tolist(), E))
        return np.stack([self._table[k] for k in keys])
