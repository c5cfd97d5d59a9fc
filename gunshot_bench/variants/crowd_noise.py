"""`crowd_noise`: every gunshot segment mixed with crowd, scream or street noise at several SNRs.

Study B fine-tuned its detector on gunshots with crowd noise mixed in; here each `clean`
segment is mixed at every level of `snr_db` with an excerpt of its own split's noise (see
`noise_pool`), scaling only the noise (`mixing.mix_at_snr`). The SNR definition is a field:
``"event"`` (default: the shot against the noise in the 50 ms window of the shot +- 25 ms) or
``"clip"`` (whole segment). For a shot in a 2 s segment the clip SNR is 10 dB or more below the
event SNR, so "20 dB clip SNR" would still bury a shot's tail; the event definition makes the
levels mean what a listener hears at the moment of the shot.

Each row records `snr_db`, `snr_definition`, `noise_id` and `noise_offset_s` (which noise
segment, from where), `noise_kind`, `noise_gain_db`, `noise_looped`, `seed`,
`source_clip_id` (the clean segment), `clipped` and `peak_dbfs` (the mixture is not normalised:
a mixture above full scale is clipped by the 16-bit WAV and says so).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import datasets
import numpy as np

from gunshot_bench.dataset.schema import clean_features, with_columns
from gunshot_bench.variants import mixing
from gunshot_bench.variants.base import Context, VariantStats, counts_table, derived_row, level_tag
from gunshot_bench.variants.noise_pool import DEFAULT_NOISE_KINDS, NOISE_KIND_WORDS, NoisePool

NO_NOISE = "no usable noise recording in this split"


def mixing_columns() -> dict:
    """The columns that describe a mixture (shared with `detection`)."""
    return {
        "snr_db": datasets.Value("float32"),
        "snr_definition": datasets.Value("string"),
        "noise_id": datasets.Value("string"),
        "noise_offset_s": datasets.Value("float32"),
        "noise_kind": datasets.Value("string"),
        "noise_gain_db": datasets.Value("float32"),
        "noise_looped": datasets.Value("bool"),
        "seed": datasets.Value("int64"),
        "source_clip_id": datasets.Value("string"),
        "clipped": datasets.Value("bool"),
        "peak_dbfs": datasets.Value("float32"),
    }


@dataclass(frozen=True)
class CrowdNoiseConfig:
    """Parameters of the `crowd_noise` config.

    Attributes:
        snr_db: the SNR levels, each within [-30, 60] dB.
        definition: "event" or "clip" (see `mixing`).
        noise_kinds: background kinds used as noise (keys of `noise_pool.NOISE_KIND_WORDS`).
        all_user_noise: use every segment of `--noise` folders whatever its folder is called.
        event_window_s, event_margin_s: the event window of the "event" definition.
    """

    snr_db: tuple[float, ...] = (-5.0, 0.0, 5.0, 10.0, 20.0)
    definition: str = "event"
    noise_kinds: tuple[str, ...] = DEFAULT_NOISE_KINDS
    all_user_noise: bool = True
    event_window_s: float = mixing.DEFAULT_EVENT_WINDOW_S
    event_margin_s: float = mixing.DEFAULT_EVENT_MARGIN_S

    name = "crowd_noise"
    inputs = ("clean",)
    needs_noise = True

    def __post_init__(self):
        levels = tuple(mixing.check_snr_db(v) for v in self.snr_db)
        if not levels:
            raise ValueError("crowd_noise needs at least one SNR level")
        if len(set(levels)) != len(levels):
            raise ValueError(f"duplicate SNR levels in {self.snr_db}")
        object.__setattr__(self, "snr_db", levels)
        object.__setattr__(self, "noise_kinds", tuple(self.noise_kinds))
        mixing.check_definition(self.definition)
        unknown = sorted(set(self.noise_kinds) - set(NOISE_KIND_WORDS))
        if unknown:
            raise ValueError(f"unknown noise kind(s) {unknown}; known: {sorted(NOISE_KIND_WORDS)}")
        if not 0 < self.event_window_s <= 1.0 or not 0 <= self.event_margin_s <= 1.0:
            raise ValueError("event_window_s must be in (0, 1] s and event_margin_s in [0, 1] s")

    def parameters(self) -> dict:
        return asdict(self)

    def features(self) -> datasets.Features:
        return with_columns(clean_features(), mixing_columns())

    def window(self, x: np.ndarray, sample_rate: int) -> tuple[int, int]:
        return mixing.snr_window(x, self.definition, sample_rate, self.event_window_s, self.event_margin_s)

    def mix(self, row: dict, x: np.ndarray, snr_db: float, ctx: Context, config: str,
            window: tuple[int, int] | None = None) -> dict | None:
        """The row of `x` mixed at `snr_db`, or None (reason counted in `ctx`) when undefined.

        The noise draw is keyed by (clip id, "crowd_noise", level) whichever config asks, so
        the `detection` config's mixture of a clip at a level is the `crowd_noise` one.
        """
        if ctx.pool is None or ctx.pool.empty:
            ctx.skip(NO_NOISE)
            return None
        tag = level_tag(snr_db, "dB")
        try:
            draw = ctx.pool.draw(ctx.seed, (row["clip_id"], self.name, tag), x.size,
                                 exclude_recording=row["recording_id"])
        except LookupError:
            ctx.skip("no noise from another recording in this split")
            return None
        try:
            mixture, info = mixing.mix_at_snr(
                x, draw.samples, snr_db, self.definition, ctx.sample_rate,
                event_window_s=self.event_window_s, event_margin_s=self.event_margin_s, window=window)
        except mixing.SilentNoiseError:
            ctx.skip(f"noise silent over the {self.definition} SNR window")
            return None
        except mixing.SilentSignalError:
            ctx.skip(f"segment silent over the {self.definition} SNR window")
            return None
        extra = {
            "snr_db": snr_db,
            "snr_definition": self.definition,
            "noise_id": draw.noise_id,
            "noise_offset_s": draw.offset_s,
            "noise_kind": draw.kind,
            "noise_gain_db": info.noise_gain_db,
            "noise_looped": info.noise_looped,
            "clipped": info.clipped,
            "peak_dbfs": info.peak_dbfs,
        }
        return derived_row(row, config, f"snr={tag},{self.definition}", extra, ctx.seed, mixture)

    def derive(self, row: dict, x: np.ndarray, ctx: Context) -> Iterator[dict]:
        if not row["is_gunshot"]:
            return
        window = self.window(x, ctx.sample_rate)
        for snr_db in self.snr_db:
            out = self.mix(row, x, snr_db, ctx, self.name, window)
            if out is not None:
                yield out

    def level_of(self, out_row: dict) -> str:
        return f"{out_row['snr_db']:g} dB"

    def card_section(self, stats: VariantStats, pools: dict[str, NoisePool]) -> str:
        levels = ", ".join(f"{v:g}" for v in self.snr_db)
        definition = (f"the event definition (signal and noise power over the {self.event_window_s * 1e3:g} ms "
                      f"window of the shot's maximal energy +- {self.event_margin_s * 1e3:g} ms)"
                      if self.definition == "event" else "the clip definition (power over the whole 2 s segment)")
        noise = "; ".join(f"{s}: " + (", ".join(f"{k} {n}" for k, n in sorted(p.kinds().items())) or "none")
                          + f" segments from {len(p.recording_ids())} recording(s)" for s, p in pools.items())
        return "\n".join([
            f"**`crowd_noise`**: every gunshot segment of `clean` mixed with crowd/scream/street noise at {levels} dB SNR "
            f"({self.definition} definition).",
            "",
            f"Each segment is mixed at each level with an excerpt of background noise of kinds "
            f"{', '.join(self.noise_kinds)}{' and every segment of `--noise` folders' if self.all_user_noise else ''}, "
            f"drawn from the same split (noise is split by recording like everything else, so no noise "
            f"recording heard in training is heard in test). Only the noise is scaled, so that the SNR under "
            f"{definition} equals the level. Mixtures are not normalised: `clipped` marks those above full scale. "
            f"Per row: `snr_db`, `snr_definition`, `noise_id` + `noise_offset_s`, `noise_kind`, `noise_gain_db`, "
            f"`noise_looped`, `seed`, `source_clip_id`, `clipped`, `peak_dbfs`.",
            "",
            f"Noise per split: {noise}.",
            "",
            counts_table(stats),
        ])
