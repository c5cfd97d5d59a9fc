"""`folder`: any tree whose folder names are labels, for a user's own recordings.

Provenance and licence: the user's; recorded as "unspecified (user data)" unless the
caller passes one. Labels: the innermost folder whose name resolves in the taxonomy (a
model, a category, a generic gunshot label or a background label) labels every file below
it; a more specific name further in (or the file name) refines it. For example
`pistol/glock_17/take1.wav` is a Glock 17, `gunshots/AK-47_C_24.wav` an AK-47 and
`background/crowd/x.wav` a non-gunshot. Each file is one recording, so its segments share a
split group, except in a folder of slices: when every file name of a folder is a source id
plus a slice number (`abc123_0.wav`, `abc123-07.wav`, `rec12_slice3.wav`, UrbanSound8K's
`fsID-classID-occurrenceID-sliceID.wav`) and some id has several slices, the slices of one id
(and one label) form one recording (see `gunshot_bench.sources.grouping`); `--group-by` sets
any other rule. A file whose path names nothing the taxonomy knows is skipped and reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from gunshot_bench.sources.base import ClipRecord, SkippedFile, precheck, walk_files
from gunshot_bench.sources.grouping import slice_ids
from gunshot_bench.taxonomy import Label, close_matches, resolve_label

LICENCE = "unspecified (user data)"

#: How specific a resolution is: a more specific name refines a less specific one.
_RANK = {"unresolved": 0, "background": 1, "gunshot": 1, "category": 2, "model": 3}


def _consistent(outer: Label, inner: Label) -> bool:
    """May `inner` refine `outer`? A model refines its own category; background refines background."""
    if outer.kind == "background":
        return inner.kind == "background"
    if inner.kind == "background":
        return False
    return outer.category is None or inner.category in (None, outer.category)


def label_from_path(rel_path: str) -> tuple[str, Label]:
    """The raw label and its resolution for a file at `rel_path` under a collection root.

    Folder names count from the outside in, each refining the last when it is more specific
    and consistent; the file name is tried last.

    >>> label_from_path("pistol/glock_17/take1.wav")[1].model
    'Glock 17'
    """
    parts = PurePosixPath(rel_path).parts
    names = list(parts[:-1]) + [PurePosixPath(parts[-1]).stem]
    chosen: Label | None = None
    chosen_raw = ""
    for i, name in enumerate(names):
        if i == len(names) - 1 and name.strip().isdigit():
            continue  # a file called "870.wav" is take 870, not a Remington 870 (a folder "870" is)
        label = resolve_label(name)
        if label.kind == "unresolved":
            continue
        if chosen is None or (_RANK[label.kind] > _RANK[chosen.kind] and _consistent(chosen, label)):
            chosen, chosen_raw = label, name
    if chosen is not None and chosen.kind in ("gunshot", "category"):
        # a folder that names nothing known, above a file that names only "shot": say what it resembles
        unknown = [n for n in names[:-1] if resolve_label(n).kind == "unresolved"]
        close = [m for n in unknown for m in close_matches(n)]
        if close:
            note = f"folder {unknown[0]!r} not recognised (close matches: {', '.join(dict.fromkeys(close))})"
            chosen = dataclasses.replace(chosen, note="; ".join(p for p in (chosen.note, note) if p))
    if chosen is None:
        note = f"no folder or file name in '{rel_path}' names a firearm, a category or a background"
        close = [m for name in names[:-1] or names for m in close_matches(name)]  # folders, else the file
        if close:
            note += f"; close matches: {', '.join(dict.fromkeys(close))}"
        return names[0], Label(raw=names[0], kind="unresolved", category=None, model=None, note=note)
    return chosen_raw, chosen


def scan(root: Path, source: str = "folder", licence: str = LICENCE) -> Iterator[ClipRecord | SkippedFile]:
    """Every file under `root`: a ClipRecord for each labelled audio file, else a SkippedFile."""
    root = Path(root)
    found: list[tuple[Path, str, ClipRecord | SkippedFile]] = []
    for path, rel in walk_files(root):
        skipped = precheck(path, rel, source)
        if skipped:
            found.append((path, rel, skipped))
            continue
        raw, label = label_from_path(rel)
        if label.kind == "unresolved":
            found.append((path, rel, SkippedFile(path, rel, source, f"label not in the taxonomy: {label.note}")))
            continue
        found.append((path, rel, ClipRecord(path=path, rel_path=rel, source=source, raw_label=raw, label=label,
                                            recording_id=f"{source}:{PurePosixPath(rel).with_suffix('')}",
                                            licence=licence)))
    by_folder: dict[PurePosixPath, list[ClipRecord]] = {}
    for _, rel, item in found:
        if isinstance(item, ClipRecord):
            by_folder.setdefault(PurePosixPath(rel).parent, []).append(item)
    regrouped: dict[str, str] = {}
    for folder, records in by_folder.items():
        ids = slice_ids(PurePosixPath(r.rel_path).stem for r in records)
        for r in records if ids else ():
            # the label is part of the group key: two labels under one id are two recordings
            regrouped[r.rel_path] = f"{source}:{folder / ids[PurePosixPath(r.rel_path).stem]}~{r.raw_label}"
    for _, rel, item in found:
        if isinstance(item, ClipRecord) and rel in regrouped:
            item = dataclasses.replace(item, recording_id=regrouped[rel])
        yield item
