"""`energy`: every segment at several gains and at several loudness targets.

Study B's third model was fine-tuned on clips whose energy had been changed; robustness to
level is measured here as a curve. Each segment of `clean` (and of `background`, so that a
detector's false alarms can be measured against level too) appears once per gain in `gain_db`
(an exact multiplication) and once per target in `target_lufs` (scaled so that its ITU-R
BS.1770-4 integrated loudness, measured with pyloudnorm's meter and 0.4 s gating blocks, which
fit a 2 s segment, equals the target).

Peaks are not limited: a row whose scaled audio exceeds full scale is clipped by the 16-bit WAV
and records `clipped` = true and `peak_dbfs` > 0 (the peak before clipping). `measured_lufs` is
the loudness of the audio as stored (measured again after clipping; without clipping it is the
loudness of the scaled signal, which 16-bit rounding changes by far less than 0.01 LU above
-80 LUFS); it is null when the audio is below the -70 LUFS gate. A loudness target for a
segment that is itself below the gate (loudness -inf) is skipped with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import datasets
import numpy as np

from gunshot_bench.audio import to_pcm16
from gunshot_bench.dataset.schema import clean_features, with_columns
from gunshot_bench.variants import mixing
from gunshot_bench.variants.base import Context, VariantStats, counts_table, derived_row, level_tag
from gunshot_bench.variants.noise_pool import NoisePool


@dataclass(frozen=True)
class EnergyConfig:
    """Parameters of the `energy` config.

    Attributes:
        gain_db: gains within [-60, +24] dB.
        target_lufs: loudness targets within [-70, 0] LUFS.
        include_background: also derive the `background` segments (non-gunshots).
        block_size_s: BS.1770 gating block; must fit the 2 s segment.
    """

    gain_db: tuple[float, ...] = (-30.0, -20.0, -10.0, 0.0, 6.0)
    target_lufs: tuple[float, ...] = (-40.0, -30.0, -23.0, -14.0)
    include_background: bool = True
    block_size_s: float = mixing.DEFAULT_BLOCK_SIZE_S

    name = "energy"
    needs_noise = False

    def __post_init__(self):
        gains = tuple(mixing.check_gain_db(g) for g in self.gain_db)
        targets = tuple(mixing.check_target_lufs(t) for t in self.target_lufs)
        if not gains and not targets:
            raise ValueError("energy needs at least one gain or loudness target")
        for what, values in (("gain", gains), ("loudness target", targets)):
            if len(set(values)) != len(values):
                raise ValueError(f"duplicate {what} levels in {values}")
        if not 0 < self.block_size_s <= 2.0:
            raise ValueError(f"block_size_s {self.block_size_s} must be in (0, 2] s to fit a 2 s segment")
        object.__setattr__(self, "gain_db", gains)
        object.__setattr__(self, "target_lufs", targets)

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("clean", "background") if self.include_background else ("clean",)

    def parameters(self) -> dict:
        return asdict(self)

    def features(self) -> datasets.Features:
        return with_columns(clean_features(), {
            "energy_mode": datasets.Value("string"),
            "gain_db": datasets.Value("float32"),
            "target_lufs": datasets.Value("float32"),
            "applied_gain_db": datasets.Value("float32"),
            "source_lufs": datasets.Value("float32"),
            "measured_lufs": datasets.Value("float32"),
            "clipped": datasets.Value("bool"),
            "peak_dbfs": datasets.Value("float32"),
            "seed": datasets.Value("int64"),
            "source_clip_id": datasets.Value("string"),
        })

    def _row(self, row: dict, x: np.ndarray, profile: mixing.LoudnessProfile, source_lufs: float,
             source_peak: float, applied_db: float, tag: str, extra: dict, ctx: Context) -> dict:
        factor = 10.0 ** (applied_db / 20.0)
        y = x * factor
        peak = source_peak * factor  # a gain scales the peak exactly: no second pass over y
        clipped = peak > mixing.FULL_SCALE
        if clipped:  # the stored audio differs from y: measure what is stored
            stored = to_pcm16(y).astype(np.float64) / 32768.0
            measured = mixing.LoudnessProfile.of(stored, ctx.sample_rate, self.block_size_s).lufs()
        else:
            measured = profile.lufs(applied_db)
        extra = {
            **extra,
            "applied_gain_db": applied_db,
            "source_lufs": source_lufs if math.isfinite(source_lufs) else None,
            "measured_lufs": measured if math.isfinite(measured) else None,
            "clipped": clipped,
            "peak_dbfs": 20.0 * math.log10(peak) if peak > 0 else -math.inf,
        }
        return derived_row(row, self.name, tag, extra, ctx.seed, y)

    def derive(self, row: dict, x: np.ndarray, ctx: Context) -> Iterator[dict]:
        x = np.asarray(x, dtype=np.float64)
        profile = mixing.LoudnessProfile.of(x, ctx.sample_rate, self.block_size_s)
        source_lufs = profile.lufs()
        source_peak = float(np.max(np.abs(x)))
        for gain_db in self.gain_db:
            tag = "gain=" + level_tag(gain_db, "dB")
            extra = {"energy_mode": "gain", "gain_db": gain_db, "target_lufs": None}
            yield self._row(row, x, profile, source_lufs, source_peak, gain_db, tag, extra, ctx)
        for target in self.target_lufs:
            try:
                applied = profile.gain_to(target)
            except mixing.SilentLoudnessError:
                ctx.skip("segment below the -70 LUFS gate: loudness undefined, no loudness target")
                continue
            tag = "loudness=" + level_tag(target, "LUFS")
            extra = {"energy_mode": "loudness", "gain_db": None, "target_lufs": target}
            yield self._row(row, x, profile, source_lufs, source_peak, applied, tag, extra, ctx)

    def level_of(self, out_row: dict) -> str:
        if out_row["energy_mode"] == "gain":
            return f"{out_row['gain_db']:+g} dB"
        return f"{out_row['target_lufs']:g} LUFS"

    def card_section(self, stats: VariantStats, pools: dict[str, NoisePool]) -> str:
        gains = ", ".join(f"{g:+g}" for g in self.gain_db) or "none"
        targets = ", ".join(f"{t:g}" for t in self.target_lufs) or "none"
        inputs = "gunshot (`clean`) and non-gunshot (`background`)" if self.include_background else "gunshot (`clean`)"
        return "\n".join([
            f"**`energy`**: every {inputs} segment at gains {gains} dB and at loudness targets {targets} LUFS.",
            "",
            f"Gains are exact multiplications; loudness is ITU-R BS.1770-4 integrated loudness (pyloudnorm meter, "
            f"{self.block_size_s:g} s gating blocks, which fit a 2 s segment). Peaks are not limited: audio above full "
            f"scale is clipped by the 16-bit WAV and the row says so (`clipped`, `peak_dbfs` before clipping); "
            f"`measured_lufs` is the loudness of the stored audio (null below the -70 LUFS gate). Per row: "
            f"`energy_mode` (gain / loudness), `gain_db` or `target_lufs` (null for the other), `applied_gain_db`, "
            f"`source_lufs`, `measured_lufs`, `clipped`, `peak_dbfs`, `seed`, `source_clip_id`.",
            "",
            counts_table(stats),
        ])
