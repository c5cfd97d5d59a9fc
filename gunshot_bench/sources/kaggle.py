"""`kaggle`: the Kaggle "gunshot audio dataset" (one folder per firearm model).

Provenance: a Kaggle community dataset of 2 s clips at 44.1 kHz, one folder per model:
AK-12, AK-47, IMI Desert Eagle, M16, M249, M4, MG-42, MP5 and Zastava M92 (study A uses it
as one of its three collections). Download it yourself from Kaggle (an account is needed)
and point `--source kaggle=PATH` at the folder that holds the model folders.

Licence: as stated on the Kaggle dataset page; it cannot be checked offline, so the card
records "see the Kaggle dataset page" and users must check it before redistributing.

Labels: the folder name is the model. "M4" here is the M4 carbine (every clip in that
folder is a rifle), which the generic resolver would leave ambiguous (Benelli M4 shotgun),
so this loader states it. Split groups: the clips carry no source-video id, so clips that
share a numbered file stem ("ak47 (3).wav", "ak47 (4).wav" -> "ak47") form one recording
group, and the build also joins near-duplicate clips; the collection still cannot be split
by source video, which the dataset card says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from gunshot_bench.sources.base import ClipRecord, SkippedFile, precheck, walk_files
from gunshot_bench.taxonomy import get_model, resolve_label, Label

LICENCE = "see the Kaggle dataset page (not verifiable offline)"

#: Folder names of the published layout whose meaning this collection fixes.
FOLDER_MODELS = {"m4": "M4"}

_NUMBER_SUFFIX = re.compile(r"(?:[\s_\-]*\(\d+\)|[\s_\-]+\d+|\d+)$")


def numbered_stem(stem: str) -> str:
    """A file stem without its trailing take number: the clip's recording group.

    >>> numbered_stem("ak47 (12)"), numbered_stem("m16_003"), numbered_stem("17")
    ('ak47', 'm16', '17')
    """
    base = _NUMBER_SUFFIX.sub("", stem).strip(" _-")
    return base or stem


def _folder_label(name: str) -> Label:
    fixed = FOLDER_MODELS.get(name.strip().lower())
    if fixed:
        model = get_model(fixed)
        return Label(raw=name, kind="model", category=model.category, model=model.name,
                     note="Kaggle folder: the M4 carbine")
    return resolve_label(name)


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    for path, rel in walk_files(root):
        skipped = precheck(path, rel, "kaggle")
        if skipped:
            yield skipped
            continue
        parts = PurePosixPath(rel).parts
        if len(parts) < 2:
            yield SkippedFile(path, rel, "kaggle", "not inside a model folder (the Kaggle layout is <model>/<clip>)")
            continue
        folder = parts[-2]
        label = _folder_label(folder)
        if label.kind == "unresolved":
            yield SkippedFile(path, rel, "kaggle", f"folder '{folder}' names no firearm in the taxonomy: {label.note}")
            continue
        group = numbered_stem(PurePosixPath(rel).stem)
        yield ClipRecord(path=path, rel_path=rel, source="kaggle", raw_label=folder, label=label,
                         recording_id=f"kaggle:{folder}/{group}", licence=LICENCE)
