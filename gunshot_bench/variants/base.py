"""What every variant shares: the summary it hands the build, its context, and its rows.

A variant is a frozen dataclass (its parameters, validated in `__post_init__`) with

- `name`: the dataset config it writes;
- `inputs`: the base configs it reads (`clean`, `background`);
- `needs_noise`: whether it mixes noise from the split's `NoisePool`;
- `features()`: the clean columns plus its own;
- `derive(row, x, ctx)`: the output rows for one input row (`x` its decoded audio): pure
  given the row, the seed and the pool;
- `level_of(out_row)`: the level a written row belongs to (for the card's clipping tally);
- `card_section(stats, pools)`: its part of the dataset card.

`gunshot_bench.variants.runner` streams the inputs through `derive` and writes the shards.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import datasets
import numpy as np
import soundfile as sf

from gunshot_bench.audio import TARGET_SAMPLE_RATE, to_pcm16
from gunshot_bench.variants.noise_pool import NoisePool

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class VariantSummary:
    """What `write_variants` wrote for one config.

    Attributes:
        config: the config name (`crowd_noise`, ...).
        features: its `datasets.Features`.
        counts: rows per split.
        card_section: markdown for the dataset card; the first line is a one-line description.
        skipped: rows not written, per reason (e.g. silent noise); also in the card section.
        parameters: the variant's parameters (its dataclass as a dict).
        clipped: rows clipped by 16-bit writing, per level (e.g. {"-5 dB": 812}).
    """

    config: str
    features: datasets.Features
    counts: dict[str, int]
    card_section: str
    skipped: dict[str, int] = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    clipped: dict[str, int] = field(default_factory=dict)


@dataclass
class VariantStats:
    """What was written: rows per split, rows left out per reason, rows and clipped rows per level."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    rows_per_level: Counter = field(default_factory=Counter)
    clipped_per_level: Counter = field(default_factory=Counter)


@dataclass
class Context:
    """Where an input row comes from and what a variant may draw on."""

    seed: int
    split: str
    input_config: str
    pool: NoisePool | None = None
    skipped: Counter = field(default_factory=Counter)
    sample_rate: int = TARGET_SAMPLE_RATE

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n


class Variant(Protocol):
    name: str
    inputs: tuple[str, ...]
    needs_noise: bool

    def features(self) -> datasets.Features: ...

    def derive(self, row: dict, x: np.ndarray, ctx: Context) -> Iterator[dict]: ...

    def level_of(self, out_row: dict) -> str: ...

    def card_section(self, stats: VariantStats, pools: dict[str, NoisePool]) -> str: ...


def encode(y: np.ndarray, sample_rate: int = TARGET_SAMPLE_RATE) -> tuple[bytes, str]:
    """16-bit WAV bytes of `y` (clipped to full scale) and the sha256 of its PCM samples.

    The same bytes and checksum as `audio.encode_wav` and `audio.pcm_sha256`, from one
    conversion to int16 instead of two (this runs for every variant row).
    """
    pcm = to_pcm16(y)
    buf = io.BytesIO()
    sf.write(buf, pcm, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue(), hashlib.sha256(pcm.tobytes()).hexdigest()


def variant_clip_id(source_clip_id: str, config: str, tag: str) -> str:
    """A unique, stable id for a derived row, e.g. `sim/pistol/x.wav#0|crowd_noise:snr=+5dB`."""
    return f"{source_clip_id}|{config}:{tag}"


def derived_row(row: dict, config: str, tag: str, extra: dict, seed: int,
                y: np.ndarray | None = None) -> dict:
    """An output row: the input's clean columns, new audio (or the input's when `y` is None),
    a derived clip id, and the variant's columns. `source_clip_id` traces it back."""
    out = dict(row)
    clip_id = variant_clip_id(row["clip_id"], config, tag)
    if y is None:
        wav, sha = row["audio"]["bytes"], row["segment_sha256"]
    else:
        wav, sha = encode(y)
    out["audio"] = {"bytes": wav, "path": clip_id.replace("/", "__") + ".wav"}
    out["clip_id"] = clip_id
    out["segment_sha256"] = sha
    out["source_clip_id"] = row["clip_id"]
    out["seed"] = int(seed)
    out.update(extra)
    return out


def level_tag(value: float, unit: str) -> str:
    """`5.0, "dB"` -> `+5dB`; a stable text form of a level for ids and rng keys."""
    return f"{value:+g}{unit}"


def counts_table(stats: VariantStats) -> str:
    """Markdown lines: rows per split, the skip reasons if any, and clipped rows per level."""
    text = "Rows: " + ", ".join(f"{s} {stats.counts.get(s, 0)}" for s in SPLIT_NAMES) + "."
    if stats.skipped:
        text += " Not written: " + "; ".join(f"{n} x {reason}" for reason, n in sorted(stats.skipped.items())) + "."
    if any(stats.clipped_per_level.values()):
        text += "\n\nClipped rows (peak above full scale before 16-bit writing; `clipped` column) per level: " + ", ".join(
            f"{level} {stats.clipped_per_level[level]}/{n}" for level, n in stats.rows_per_level.items()) + "."
    return text
