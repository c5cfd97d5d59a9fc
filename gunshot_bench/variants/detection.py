"""`detection`: binary gunshot / non-gunshot, study B's task, with impulsive confusers as negatives.

Rows: every gunshot segment (`clean`) and every non-gunshot segment (`background`: crowds,
screams, street and other ambience, user noise, and the impulsive confusers a detector
mistakes for gunshots: fireworks, door slams, pops, claps, hammering, backfires), each once
as recorded (`detection_kind` "clean") and, by default, once mixed with its split's noise at
one level drawn per segment from the `crowd_noise` levels ("mixed"). Mixing the negatives too
matters: if only gunshots were mixtures, "two sounds at once" would predict the label.
A gunshot's mixture is exactly its `crowd_noise` row at that level (same noise draw); a
negative is never mixed with noise from its own recording.

The label is `is_gunshot`; splits are those of `clean` and `background` (grouped by recording).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import datasets
import numpy as np

from gunshot_bench.dataset.schema import clean_features, with_columns
from gunshot_bench.rng import derive_rng
from gunshot_bench.variants.base import Context, VariantStats, counts_table, derived_row
from gunshot_bench.variants.crowd_noise import CrowdNoiseConfig, mixing_columns
from gunshot_bench.variants.mixing import peak_dbfs
from gunshot_bench.variants.noise_pool import NoisePool


@dataclass(frozen=True)
class DetectionConfig:
    """Parameters of the `detection` config.

    Attributes:
        mixed: add one noisy copy of every segment (gunshots and negatives alike).
        mixing: how the noisy copies are made (levels, SNR definition, noise kinds).
    """

    mixed: bool = True
    mixing: CrowdNoiseConfig = field(default_factory=CrowdNoiseConfig)

    name = "detection"
    inputs = ("clean", "background")

    def __post_init__(self):
        if not isinstance(self.mixing, CrowdNoiseConfig):
            raise ValueError(f"detection.mixing must be a CrowdNoiseConfig, got {type(self.mixing).__name__}")

    @property
    def needs_noise(self) -> bool:
        return self.mixed

    def parameters(self) -> dict:
        return asdict(self)

    def features(self) -> datasets.Features:
        return with_columns(clean_features(), {"detection_kind": datasets.Value("string"), **mixing_columns()})

    def level_for(self, seed: int, clip_id: str) -> float:
        """The one SNR level at which segment `clip_id` is mixed (drawn per segment)."""
        rng = derive_rng(seed, clip_id, self.name, "level")
        return self.mixing.snr_db[int(rng.integers(len(self.mixing.snr_db)))]

    def derive(self, row: dict, x: np.ndarray, ctx: Context) -> Iterator[dict]:
        clean = {column: None for column in mixing_columns()}
        # `clipped` says whether this variant pushed the audio over full scale: never for a copy
        clean.update(detection_kind="clean", clipped=False, peak_dbfs=peak_dbfs(x))
        yield derived_row(row, self.name, "clean", clean, ctx.seed)
        if not self.mixed:
            return
        out = self.mixing.mix(row, x, self.level_for(ctx.seed, row["clip_id"]), ctx, self.name)
        if out is not None:
            out["detection_kind"] = "mixed"
            yield out

    def level_of(self, out_row: dict) -> str:
        if out_row["detection_kind"] == "clean":
            return "clean"
        return f"mixed {out_row['snr_db']:g} dB"

    def card_section(self, stats: VariantStats, pools: dict[str, NoisePool]) -> str:
        m = self.mixing
        mixed = (f" Each segment also appears once mixed with its split's noise ({', '.join(m.noise_kinds)}) at one "
                 f"level drawn per segment from {', '.join(f'{v:g}' for v in m.snr_db)} dB SNR ({m.definition} "
                 f"definition), negatives as well as gunshots, so that being a mixture does not give the label "
                 f"away; a gunshot's mixture is its `crowd_noise` row at that level.") if self.mixed else ""
        return "\n".join([
            "**`detection`**: binary `is_gunshot` over gunshot segments and non-gunshot segments (crowds, screams, "
            "ambience and impulsive confusers).",
            "",
            f"Rows come from `clean` (gunshots) and `background` (non-gunshots) in their own splits.{mixed} "
            f"`detection_kind` is `clean` or `mixed`; mixed rows carry the `crowd_noise` columns, clean rows "
            f"null there.",
            "",
            counts_table(stats),
        ])
