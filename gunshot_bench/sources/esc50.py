"""`esc50`: ESC-50, 2000 five-second environmental recordings in 50 classes: negatives.

Provenance: K. J. Piczak, "ESC: Dataset for Environmental Sound Classification", ACM
Multimedia 2015; https://github.com/karolpiczak/ESC-50. Clips extracted from Freesound
recordings; `src_file` is the Freesound id of the source recording.

Licence: CC BY-NC 3.0 (non-commercial); the clips of the ESC-10 subset (`esc10` True) are
CC BY 3.0. Each row carries its own; the card lists both.

Layout (as published; point `--source esc50=PATH` at the `ESC-50-master` folder):

    ESC-50-master/meta/esc50.csv   filename,fold,target,category,esc10,src_file,take
    ESC-50-master/audio/1-100032-A-0.wav ...

Labels: ESC-50 has no gunshot class (its nearest, `fireworks`, is a firework), so every clip
is a negative labelled by its category; several are the impulsive confusers a detector must
reject (fireworks, door_wood_knock, glass_breaking, clapping, can_opening).
`GUNSHOT_CLASSES` is empty and stays the single place to change should a release add one.

Grouping and split: clips of one source recording (`src_file`) form one group; the authors'
5 folds keep a source within one fold and map to splits by `FOLD_SPLITS` (folds 1-3 train,
4 validation, 5 test), kept by the build.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gunshot_bench.sources.base import ClipRecord, SkippedFile, read_index_csv
from gunshot_bench.sources.indexed import scan_listed
from gunshot_bench.taxonomy import Label

SOURCE = "esc50"
LICENCE = "CC-BY-NC-3.0 (ESC-50; non-commercial)"
LICENCE_ESC10 = "CC-BY-3.0 (ESC-50, ESC-10 subset)"
METADATA = "meta/esc50.csv"
REQUIRED = ("filename", "fold", "category", "src_file")
GUNSHOT_CLASSES: frozenset[str] = frozenset()
FOLD_SPLITS = {1: "train", 2: "train", 3: "train", 4: "validation", 5: "test"}


def label_of(category: str) -> Label:
    if category in GUNSHOT_CLASSES:
        return Label(category, "gunshot", note="ESC-50 gunshot class: the firearm is not named")
    return Label(category, "background", note="ESC-50 class")


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    numbered, bad_lines = read_index_csv(root / METADATA, REQUIRED, SOURCE)
    yield from bad_lines  # lines of the metadata file that cannot be used, each with its reason
    rows = [row for _, row in numbered]
    listed = {f"audio/{row['filename'].strip()}": row for row in rows}

    def make(path: Path, rel: str, row: dict) -> ClipRecord | SkippedFile:
        try:
            split = FOLD_SPLITS[int(row["fold"])]
        except (KeyError, ValueError):
            return SkippedFile(path, rel, SOURCE, f"fold '{row['fold']}' is not one of 1-5 in {METADATA}")
        esc10 = str(row.get("esc10", "")).strip().lower() == "true"
        extra = {k: row[k] for k in ("fold", "target", "esc10", "take") if row.get(k)}
        return ClipRecord(path=path, rel_path=rel, source=SOURCE, raw_label=row["category"],
                          label=label_of(row["category"]), recording_id=f"{SOURCE}:{row['src_file'].strip()}",
                          licence=LICENCE_ESC10 if esc10 else LICENCE, extra=extra, split=split)

    yield from scan_listed(root, SOURCE, listed, {METADATA}, make, METADATA)
