"""Dataset variants: `crowd_noise`, `energy` and `detection`, derived from `clean` and `background`.

Each variant is a frozen dataclass over the pure functions of `mixing` (SNR, mixing, gain,
loudness); adding one means adding a module with such a class and naming it in `REGISTRY`.
The build calls `write_variants` after writing the base configs:

    >>> from gunshot_bench.variants import ALL, write_variants
    >>> summaries = write_variants(stage_dir, ALL, seed=0)  # doctest: +SKIP

Every random draw comes from `derive_rng(seed, clip_id, variant, level)`, so a clip's rows do
not change when other clips are added; noise is drawn from the clip's own split only.
See docs/variants.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from gunshot_bench.variants.base import VariantSummary
from gunshot_bench.variants.crowd_noise import CrowdNoiseConfig
from gunshot_bench.variants.detection import DetectionConfig
from gunshot_bench.variants.energy import EnergyConfig

ALL = ("crowd_noise", "energy", "detection")
REGISTRY = {"crowd_noise": CrowdNoiseConfig, "energy": EnergyConfig, "detection": DetectionConfig}


def write_variants(stage_dir: Path, names: Sequence[str], seed: int, progress: bool = True, *,
                   configs: Mapping[str, object] | None = None,
                   workers: int | None = None) -> list[VariantSummary]:
    """Write the variant configs `names` from the `clean` and `background` shards in `stage_dir`.

    Args:
        stage_dir: the build's staging folder (holds `data/clean/` and `data/background/`).
        names: variant config names, a subset of `ALL`.
        seed: the build seed; every draw derives from it.
        progress: show a progress bar.
        configs: optional parameters per name (e.g. {"crowd_noise": CrowdNoiseConfig(definition="clip")}).
        workers: processes (default: 2 for large builds, 1 for small ones; the output is the same).

    Returns:
        One VariantSummary per name, in the order given.
    """
    from gunshot_bench.variants.runner import resolve, write_all

    variants = resolve(names, configs, REGISTRY)
    return write_all(Path(stage_dir), variants, seed, progress=progress, workers=workers)


__all__ = ["ALL", "REGISTRY", "VariantSummary", "write_variants", "CrowdNoiseConfig", "EnergyConfig",
           "DetectionConfig"]
