"""`baseline`: the collection of earlier studies, through a metadata CSV adapter.

Layout: a root folder holding `metadata.csv` with the columns `path` (relative to the root),
`label`, `recording_id` and optionally `device`, `channel` and `licence`, and the audio files
it lists. Any collection of earlier studies can be adapted by writing that CSV.

Worked example: the multi-firearm, multi-orientation gunshot dataset of Kabealo et al. 2023
("A multi-firearm, multi-orientation audio dataset of gunshots", Data in Brief 48:109091,
licence CC BY 4.0): Glock 17, Ruger AR-556, S&W .38 revolver and Remington 870 shots, each
captured at once by many devices and channels. One shot heard by twenty microphones is one
recording, so `recording_id` names the shot, not the file, and all its channels stay in one
split. A row per file, e.g.:

    path,label,recording_id,device,channel,licence
    glock17/shot012_dev03_ch1.wav,Glock 17,glock17-shot012,dev03,1,CC-BY-4.0

Files under the root that the CSV does not list are reported as skipped, and CSV rows whose
file is missing are reported too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gunshot_bench.sources.base import ClipRecord, SkippedFile, precheck, read_index_csv, walk_files
from gunshot_bench.taxonomy import resolve_label

METADATA = "metadata.csv"
DEFAULT_LICENCE = "CC-BY-4.0 (Kabealo et al. 2023); check other collections"
REQUIRED = ("path", "label", "recording_id")


def read_metadata(root: Path) -> dict[str, dict]:
    """The CSV rows keyed by their posix relative path."""
    rows = read_index_csv(Path(root) / METADATA, REQUIRED, "baseline")
    return {Path(row["path"]).as_posix(): row for row in rows}


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    rows = read_metadata(root)
    seen: set[str] = set()
    for path, rel in walk_files(root):
        if rel == METADATA:
            yield SkippedFile(path, rel, "baseline", "metadata of the collection (read, not audio)")
            continue
        seen.add(rel)
        skipped = precheck(path, rel, "baseline")
        if skipped:
            yield skipped
            continue
        row = rows.get(rel)
        if row is None:
            yield SkippedFile(path, rel, "baseline", f"not listed in {METADATA}")
            continue
        label = resolve_label(row["label"])
        if label.kind == "unresolved":
            yield SkippedFile(path, rel, "baseline", f"label '{row['label']}' is not in the taxonomy: {label.note}")
            continue
        extra = {k: row[k] for k in ("device", "channel") if row.get(k)}
        yield ClipRecord(path=path, rel_path=rel, source="baseline", raw_label=row["label"], label=label,
                         recording_id=f"baseline:{row['recording_id']}",
                         licence=row.get("licence") or DEFAULT_LICENCE, extra=extra)
    for rel in sorted(set(rows) - seen):
        yield SkippedFile(root / rel, rel, "baseline", f"listed in {METADATA} but the file is missing", is_file=False)
