"""The columns of every dataset config, as `datasets.Features`.

ClassLabel ids are the indices of the taxonomy's fixed `CATEGORIES` and `MODELS` tuples, so
the same id means the same firearm in every build; -1 marks an unknown category or model.
"""

from __future__ import annotations

import datasets

from gunshot_bench.audio import TARGET_SAMPLE_RATE
from gunshot_bench.taxonomy import CATEGORIES, MODELS

#: Configs the foundation build writes; variants add theirs (see gunshot_bench.variants).
BASE_CONFIGS = ("clean", "background")
SPLITS = ("train", "validation", "test")
#: Class names of the `is_gunshot` ClassLabel (0, 1), as the detection task names them.
IS_GUNSHOT_NAMES = ("non_gunshot", "gunshot")


def clean_features() -> datasets.Features:
    """Columns shared by every config: the segment's audio, labels and provenance."""
    return datasets.Features(
        {
            "audio": datasets.Audio(sampling_rate=TARGET_SAMPLE_RATE),
            "category": datasets.ClassLabel(names=list(CATEGORIES)),
            "model": datasets.ClassLabel(names=list(MODELS)),
            "is_gunshot": datasets.ClassLabel(names=list(IS_GUNSHOT_NAMES)),
            "label_raw": datasets.Value("string"),
            "clip_id": datasets.Value("string"),
            "source": datasets.Value("string"),
            "rel_path": datasets.Value("string"),
            "recording_id": datasets.Value("string"),
            "segment_index": datasets.Value("int32"),
            "start_s": datasets.Value("float32"),
            "orig_sample_rate": datasets.Value("int32"),
            "orig_channels": datasets.Value("int32"),
            "licence": datasets.Value("string"),
            "segment_sha256": datasets.Value("string"),
            "padded": datasets.Value("bool"),
            "orig_duration_s": datasets.Value("float32"),
            "sim_params": datasets.Value("string"),  # JSON of the simulator's recoverable parameters, "" otherwise
        }
    )


def with_columns(base: datasets.Features, extra: dict) -> datasets.Features:
    """`base` plus variant-specific columns (e.g. {"snr_db": datasets.Value("float32")})."""
    merged = dict(base)
    merged.update(extra)
    return datasets.Features(merged)
