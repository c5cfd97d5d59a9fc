"""The noise pool of one split: which background segments may be mixed into that split's clips.

Noise comes from the build's `background` config, which is split by recording group like
everything else, so a train clip is mixed only with train noise and no noise recording heard
in training is heard in validation or test. The pool keeps the segments whose kind (read from
the label and the path: `crowd/`, `_background/scream/`, `street_traffic_03.wav`, ...) is one of
the requested kinds, plus every segment of a user's `--noise` folders (source "noise"), whose
folder names (MUSAN's `free-sound`, ESC-50's flat `audio/`) rarely say what they hold.

Consecutive segments of one file are contiguous audio (the build resamples a recording once,
then cuts it), so they form one *run* and a noise excerpt may start anywhere in a run: its
`noise_id` is the clip id of the segment where it starts and `noise_offset_s` the offset within
that segment; an excerpt that passes the end of that segment continues into the next segment
of the same file.

The pool's audio lives in a float32 `.npy` memory map in the build's work folder, so worker
processes share it through the page cache and no process holds the background in memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from gunshot_bench.audio import decode_wav
from gunshot_bench.dataset.shards import iter_rows
from gunshot_bench.rng import derive_rng, stable_hash
from gunshot_bench.variants.mixing import SILENCE_POWER_DB, power_db

#: Words that mark a background kind in a label or a path (matched as whole words).
NOISE_KIND_WORDS: dict[str, frozenset[str]] = {
    "crowd": frozenset({"crowd", "crowds", "babble", "chatter", "people", "cheering", "audience"}),
    "scream": frozenset({"scream", "screams", "screaming", "shout", "shouting", "yell", "yelling"}),
    "street": frozenset({"street", "streets", "traffic", "city", "urban"}),
    "ambience": frozenset({"ambience", "ambiance", "ambient", "wind", "rain", "environment"}),
    "music": frozenset({"music"}),
}
DEFAULT_NOISE_KINDS = ("crowd", "scream", "street")
USER_NOISE_SOURCE = "noise"


def noise_kind(label_raw: str, rel_path: str) -> str | None:
    """The first kind of `NOISE_KIND_WORDS` named by the label or a path part, innermost first.

    >>> noise_kind("background", "background/crowd/take1.wav")
    'crowd'
    >>> noise_kind("fireworks", "_background/fireworks/f1.wav") is None
    True
    """
    parts = [label_raw, *reversed(PurePosixPath(rel_path).with_suffix("").parts)]
    for part in parts:
        words = set(re.split(r"[^a-z]+", part.lower()))
        for kind, vocabulary in NOISE_KIND_WORDS.items():
            if words & vocabulary:
                return kind
    return None


def file_key(clip_id: str) -> str:
    """The file (or time range) a segment comes from: its clip id without `#index`."""
    return clip_id.rsplit("#", 1)[0]


@dataclass(frozen=True)
class NoiseRun:
    """Consecutive segments of one noise file: contiguous audio."""

    key: str
    kind: str
    recording_id: str
    clip_ids: tuple[str, ...]
    first_row: int  # index of the first segment in the pool's array; the rest follow in order


@dataclass(frozen=True)
class NoiseDraw:
    """One noise excerpt and where it comes from."""

    samples: np.ndarray
    noise_id: str
    offset_s: float
    kind: str
    recording_id: str


@dataclass
class NoisePool:
    """The usable noise of one split (see module docstring). Picklable; maps its audio lazily."""

    split: str
    array_path: Path | None
    runs: list[NoiseRun]
    segment_samples: int
    sample_rate: int
    excluded: Counter = field(default_factory=Counter)
    _array: np.ndarray | None = field(default=None, repr=False, compare=False)
    _run_hash: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_array"] = state["_run_hash"] = None
        return state

    @property
    def empty(self) -> bool:
        return not self.runs

    def kinds(self) -> Counter:
        """Segments per kind."""
        counts: Counter = Counter()
        for run in self.runs:
            counts[run.kind] += len(run.clip_ids)
        return counts

    def recording_ids(self) -> set[str]:
        return {r.recording_id for r in self.runs}

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._array is None:
            self._array = np.load(self.array_path, mmap_mode="r")
            self._run_hash = np.array([stable_hash(r.key) for r in self.runs], dtype=np.uint64)
        return self._array, self._run_hash

    def choose(self, seed: int, keys: Sequence[object], exclude_recording: str | None = None) -> tuple[int, int]:
        """(run index, offset in samples within the run) for the draw named by `keys`.

        The run is picked by weighted rendezvous hashing: every run gets a score from the
        draw's generator value and the run's own stable hash, weighted by the run's length, and
        the best score wins. Adding a noise recording therefore changes only the draws that the
        new recording wins, instead of reshuffling every mixture of the split (as an index
        into a list would). The offset comes from the same `derive_rng` generator.
        """
        if self.empty:
            raise LookupError(f"no noise in split {self.split}")
        _, run_hash = self._arrays()
        rng = derive_rng(seed, *keys)
        draw = rng.integers(0, 2**63, dtype=np.uint64)
        u = (_splitmix64(run_hash ^ draw) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        weights = np.array([len(r.clip_ids) for r in self.runs], dtype=np.float64)
        score = -np.log(np.maximum(u, 2.0**-60)) / weights
        if exclude_recording is not None:
            score[[r.recording_id == exclude_recording for r in self.runs]] = np.inf
            if not np.isfinite(score).any():
                raise LookupError(f"no noise in split {self.split} from a recording other than {exclude_recording}")
        index = int(np.argmin(score))
        run_samples = len(self.runs[index].clip_ids) * self.segment_samples
        offset = int(rng.integers(0, run_samples - self.segment_samples + 1))
        return index, offset

    def excerpt(self, run_index: int, offset: int, n_samples: int) -> NoiseDraw:
        """`n_samples` of run `run_index` from `offset` (segments of a run are contiguous)."""
        array, _ = self._arrays()
        run = self.runs[run_index]
        first = offset // self.segment_samples
        last = min(len(run.clip_ids), -(-(offset + n_samples) // self.segment_samples))
        audio = np.asarray(array[run.first_row + first : run.first_row + last]).reshape(-1)
        start = offset - first * self.segment_samples
        return NoiseDraw(
            samples=audio[start : start + n_samples],
            noise_id=run.clip_ids[first],
            offset_s=start / self.sample_rate,
            kind=run.kind,
            recording_id=run.recording_id,
        )

    def draw(self, seed: int, keys: Sequence[object], n_samples: int,
             exclude_recording: str | None = None) -> NoiseDraw:
        """The excerpt chosen for `keys` (e.g. (clip_id, "crowd_noise", "5")): see `choose`."""
        return self.excerpt(*self.choose(seed, keys, exclude_recording), n_samples)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele et al. 2014), vectorised: turns (draw XOR run hash) into a
    well-mixed 64-bit value; written by hand because numpy has no keyed hash of arrays."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def build_pool(stage_dir: Path, split: str, work_dir: Path, kinds: Sequence[str] = DEFAULT_NOISE_KINDS,
               all_user_noise: bool = True, segment_samples: int = 88_200,
               sample_rate: int = 44_100) -> NoisePool:
    """Read the `background` rows of `split`, keep the usable noise, write its audio to a memmap.

    Segments of the wrong kind are left out silently (they are not noise for this variant);
    silent segments and segments of another length are left out and counted in `excluded`.
    """
    unknown = sorted(set(kinds) - set(NOISE_KIND_WORDS))
    if unknown:
        raise ValueError(f"unknown noise kind(s) {unknown}; known: {sorted(NOISE_KIND_WORDS)}")
    work_dir.mkdir(parents=True, exist_ok=True)
    raw_path = work_dir / f"noise-{split}.f32"
    excluded: Counter = Counter()
    meta: list[tuple[str, int, str, str, str]] = []  # (file key, segment index, clip id, kind, recording id)
    n = 0
    with open(raw_path, "wb") as raw:
        for row in iter_rows(stage_dir, "background", split):
            kind = noise_kind(row["label_raw"], row["rel_path"])
            if row["source"] == USER_NOISE_SOURCE and all_user_noise:
                kind = kind or "user noise"
            elif kind not in kinds:
                continue
            x, rate = decode_wav(row["audio"]["bytes"])
            if rate != sample_rate or x.size != segment_samples:
                excluded[f"not a {segment_samples}-sample segment at {sample_rate} Hz"] += 1
                continue
            if power_db(x) <= SILENCE_POWER_DB:
                excluded["silent noise segment (SNR undefined)"] += 1
                continue
            raw.write(np.ascontiguousarray(x, dtype=np.float32).tobytes())
            meta.append((file_key(row["clip_id"]), int(row["segment_index"]), row["clip_id"], kind, row["recording_id"]))
            n += 1
    if n == 0:
        raw_path.unlink()
        return NoisePool(split=split, array_path=None, runs=[], segment_samples=segment_samples,
                         sample_rate=sample_rate, excluded=excluded)
    # reorder into runs: the memmap rows follow the runs so that a run is one contiguous slice
    order = sorted(range(n), key=lambda i: (meta[i][0], meta[i][1]))
    flat = np.memmap(raw_path, dtype=np.float32, mode="r", shape=(n, segment_samples))
    array_path = work_dir / f"noise-{split}.npy"
    out = np.lib.format.open_memmap(array_path, mode="w+", dtype=np.float32, shape=(n, segment_samples))
    runs: list[NoiseRun] = []
    current: list[int] = []
    for position, i in enumerate(order):
        out[position] = flat[i]
        key, index = meta[i][0], meta[i][1]
        previous = meta[current[-1]] if current else None
        if previous is not None and (previous[0] != key or previous[1] + 1 != index):
            runs.append(_run(meta, current, position - len(current)))
            current = []
        current.append(i)
    if current:
        runs.append(_run(meta, current, n - len(current)))
    out.flush()
    del out, flat
    raw_path.unlink()
    return NoisePool(split=split, array_path=array_path, runs=runs, segment_samples=segment_samples,
                     sample_rate=sample_rate, excluded=excluded)


def _run(meta: list, members: list[int], first_row: int) -> NoiseRun:
    key, _, _, kind, recording_id = meta[members[0]]
    return NoiseRun(key=key, kind=kind, recording_id=recording_id,
                    clip_ids=tuple(meta[i][2] for i in members), first_row=first_row)
