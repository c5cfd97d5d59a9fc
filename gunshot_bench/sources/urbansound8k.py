"""`urbansound8k`: UrbanSound8K, 8732 labelled urban sound slices in 10 classes, one of them gun_shot.

Provenance: J. Salamon, C. Jacoby and J. P. Bello, "A Dataset and Taxonomy for Urban Sound
Research", ACM Multimedia 2014; https://urbansounddataset.weebly.com/urbansound8k.html. The
slices (at most 4 s) were cut from Freesound recordings; `fsID` is the Freesound id of the
source recording.

Licence: CC BY-NC 3.0 (non-commercial), as stated in the dataset's README; every row and
the card carry it. Check it before redistributing a build.

Layout (as published; point `--source urbansound8k=PATH` at the `UrbanSound8K` folder):

    UrbanSound8K/metadata/UrbanSound8K.csv   slice_file_name,fsID,start,end,salience,fold,classID,class
    UrbanSound8K/audio/fold1/100032-3-0-0.wav  ... audio/fold10/...

Labels: class `gun_shot` is a gunshot of unknown category (the firearm is not named); the
other nine classes (air_conditioner, car_horn, children_playing, dog_bark, drilling,
engine_idling, jackhammer, siren, street_music) are negatives, labelled by their class.

Grouping and split: every slice of one Freesound recording (one `fsID`) is one recording group.
The authors' 10 folds keep an fsID within one fold; they are mapped to splits explicitly by
`FOLD_SPLITS` (folds 1-8 train, 9 validation, 10 test), which the build keeps instead of its
own hashed split. The published protocol is 10-fold cross-validation; one fixed mapping gives
one comparable split, and the fold of every row is kept in the manifest's `extra`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gunshot_bench.sources.base import ClipRecord, SkippedFile, read_index_csv
from gunshot_bench.sources.indexed import scan_listed
from gunshot_bench.taxonomy import Label

SOURCE = "urbansound8k"
LICENCE = "CC-BY-NC-3.0 (UrbanSound8K; non-commercial)"
METADATA = "metadata/UrbanSound8K.csv"
REQUIRED = ("slice_file_name", "fsID", "fold", "class")
GUNSHOT_CLASS = "gun_shot"
#: The official folds -> this package's splits.
FOLD_SPLITS = {**{f: "train" for f in range(1, 9)}, 9: "validation", 10: "test"}


def label_of(cls: str) -> Label:
    """gun_shot -> a gunshot of unknown category; any other class -> a negative of that class."""
    if cls == GUNSHOT_CLASS:
        return Label(cls, "gunshot", note="UrbanSound8K gun_shot: the firearm is not named")
    return Label(cls, "background", note="UrbanSound8K class")


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    numbered, bad_lines = read_index_csv(root / METADATA, REQUIRED, SOURCE)
    yield from bad_lines  # lines of the metadata file that cannot be used, each with its reason
    rows = [row for _, row in numbered]
    listed = {f"audio/fold{row['fold'].strip()}/{row['slice_file_name'].strip()}": row for row in rows}

    def make(path: Path, rel: str, row: dict) -> ClipRecord | SkippedFile:
        try:
            split = FOLD_SPLITS[int(row["fold"])]
        except (KeyError, ValueError):
            return SkippedFile(path, rel, SOURCE, f"fold '{row['fold']}' is not one of 1-10 in {METADATA}")
        extra = {k: row[k] for k in ("fold", "salience", "classID", "start", "end") if row.get(k)}
        return ClipRecord(path=path, rel_path=rel, source=SOURCE, raw_label=row["class"], label=label_of(row["class"]),
                          recording_id=f"{SOURCE}:{row['fsID'].strip()}", licence=LICENCE, extra=extra, split=split)

    yield from scan_listed(root, SOURCE, listed, {METADATA}, make, METADATA)
