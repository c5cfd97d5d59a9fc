"""`fsd50k`: FSD50K, 51,197 Freesound clips labelled with 200 AudioSet classes; its gunfire labels.

Provenance: E. Fonseca, X. Favory, J. Pons, F. Font and X. Serra, "FSD50K: An Open Dataset of
Human-Labeled Sound Events", IEEE/ACM TASLP 30, 2022; https://zenodo.org/record/4060432.

Licence: the dataset as a whole is CC BY 4.0, but each clip keeps its Freesound licence (CC0,
CC BY, CC BY-NC or CC Sampling+, some non-commercial), listed in
`FSD50K.metadata/{dev,eval}_clips_info_FSD50K.json`. Each row carries its clip's licence
(`licence_id` of the URL) when that file is present, else the dataset statement `LICENCE`.

Layout (as published, unzipped; point `--source fsd50k=PATH` at the folder holding):

    FSD50K.ground_truth/dev.csv    fname,labels,mids,split   (split: train | val)
    FSD50K.ground_truth/eval.csv   fname,labels,mids
    FSD50K.dev_audio/<fname>.wav, FSD50K.eval_audio/<fname>.wav
    FSD50K.metadata/dev_clips_info_FSD50K.json, eval_clips_info_FSD50K.json  (optional: licences)

Labels: a clip whose labels include `GUNSHOT_LABELS` (Gunshot_and_gunfire, Machine_gun,
Fusillade) is a gunshot of unknown category. AudioSet's "Machine gun" means the sound of
automatic fire from any weapon, not the machine-gun category of this taxonomy, so it is not
mapped to it. `Cap_gun` (a toy) and every other clip are negatives, labelled by their first
label: real-world negatives with impulsive confusers among them (Fireworks, Firecracker, Door,
Slam, Knock, Clapping).

Grouping and split: each clip is one Freesound upload and its own recording; the published
partition is kept by the build: dev `train` -> train, dev `val` -> validation, eval -> test
(`SPLITS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from gunshot_bench.errors import UserError
from gunshot_bench.sources.base import ClipRecord, SkippedFile, read_index_csv
from gunshot_bench.sources.indexed import scan_listed
from gunshot_bench.taxonomy import Label

SOURCE = "fsd50k"
LICENCE = "per-clip Freesound licence (CC0, CC-BY, CC-BY-NC or CC-Sampling+); dataset CC-BY-4.0"
GUNSHOT_LABELS = ("Gunshot_and_gunfire", "Machine_gun", "Fusillade")
TOY_LABELS = ("Cap_gun",)
DEV, EVAL = "FSD50K.ground_truth/dev.csv", "FSD50K.ground_truth/eval.csv"
VOCABULARY = "FSD50K.ground_truth/vocabulary.csv"
INFO = {"dev": "FSD50K.metadata/dev_clips_info_FSD50K.json", "eval": "FSD50K.metadata/eval_clips_info_FSD50K.json"}
AUDIO = {"dev": "FSD50K.dev_audio", "eval": "FSD50K.eval_audio"}
SPLITS = {("dev", "train"): "train", ("dev", "val"): "validation", ("eval", ""): "test"}
_CC = re.compile(r"creativecommons\.org/(?:licenses/(?P<kind>[a-z+-]+)|publicdomain/(?P<pd>zero))/(?P<ver>[\d.]+)")


def licence_id(url: str) -> str:
    """A short id of a Creative Commons licence URL.

    >>> licence_id("http://creativecommons.org/licenses/by-nc/3.0/"), licence_id("http://creativecommons.org/publicdomain/zero/1.0/")
    ('CC-BY-NC-3.0', 'CC0-1.0')
    """
    m = _CC.search(url or "")
    if not m:
        return url or LICENCE
    return f"CC0-{m['ver']}" if m["pd"] else f"CC-{m['kind'].upper()}-{m['ver']}"


def label_of(labels: list[str]) -> Label:
    """Gunfire labels -> a gunshot of unknown category; anything else (cap guns included) -> a negative."""
    guns = [lab for lab in labels if lab in GUNSHOT_LABELS]
    if guns:
        return Label(guns[0], "gunshot", note="FSD50K gunfire label: the firearm is not named")
    raw = labels[0] if labels else "unlabelled"
    note = "FSD50K: a toy cap gun, not a firearm" if raw in TOY_LABELS or set(labels) & set(TOY_LABELS) else "FSD50K class"
    return Label(raw, "background", note=note)


def _clip_licences(root: Path, part: str) -> dict[str, str]:
    path = root / INFO[part]
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not readable as JSON ({exc})") from None
    return {str(k): licence_id(v.get("license", "")) for k, v in info.items() if isinstance(v, dict)}


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    listed: dict[str, dict] = {}
    metadata = {DEV, EVAL, VOCABULARY}
    for part, csv_name, required in (("dev", DEV, ("fname", "labels", "split")), ("eval", EVAL, ("fname", "labels"))):
        licences = _clip_licences(root, part)
        if licences:
            metadata.add(INFO[part])
        numbered, bad_lines = read_index_csv(root / csv_name, required, SOURCE)
        yield from bad_lines  # lines of the ground truth that cannot be used, each with its reason
        for _, row in numbered:
            fname = row["fname"].strip()
            listed[f"{AUDIO[part]}/{fname}.wav"] = dict(row, _part=part, _licence=licences.get(fname, LICENCE))

    def make(path: Path, rel: str, row: dict) -> ClipRecord | SkippedFile:
        split = SPLITS.get((row["_part"], (row.get("split") or "").strip() if row["_part"] == "dev" else ""))
        if split is None:
            return SkippedFile(path, rel, SOURCE, f"split '{row.get('split')}' in {DEV} is neither train nor val")
        labels = [lab.strip() for lab in row["labels"].split(",") if lab.strip()]
        label = label_of(labels)
        return ClipRecord(path=path, rel_path=rel, source=SOURCE, raw_label=label.raw, label=label,
                          recording_id=f"{SOURCE}:{row['_part']}/{row['fname'].strip()}", licence=row["_licence"],
                          extra={"labels": row["labels"], "part": row["_part"]}, split=split)

    yield from scan_listed(root, SOURCE, listed, metadata, make, "the FSD50K ground truth")
