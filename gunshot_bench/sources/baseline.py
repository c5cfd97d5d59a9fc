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

from gunshot_bench.sources.base import ClipRecord, SkippedFile, inside, precheck, read_index_csv, walk_files
from gunshot_bench.taxonomy import resolve_label

METADATA = "metadata.csv"
DEFAULT_LICENCE = "CC-BY-4.0 (Kabealo et al. 2023); check other collections"
REQUIRED = ("path", "label", "recording_id")


def read_metadata(root: Path) -> tuple[dict[str, tuple[int, dict]], list[SkippedFile], dict[str, str]]:
    """The CSV rows keyed by their posix relative path (with line numbers), the unusable lines,
    and the paths refused for conflicting labels (path -> reason).

    A path listed twice with the same label and recording is used once and the repeat
    reported; listed with different labels or recordings, it is refused (no label wins silently).
    """
    rows, bad = read_index_csv(Path(root) / METADATA, REQUIRED, "baseline")
    by_path: dict[str, tuple[int, dict]] = {}
    conflicts: dict[str, str] = {}
    for line, row in rows:
        rel = Path(row["path"]).as_posix() if row["path"] else ""
        if inside(Path(root), rel) is None:
            bad.append(SkippedFile(Path(root) / METADATA, f"{METADATA}:{line}", "baseline",
                                   f"path {row['path']!r:.80} is empty, absolute or leaves the collection folder",
                                   is_file=False))
            continue
        if rel not in by_path:
            by_path[rel] = (line, row)
            continue
        first, kept = by_path[rel]
        if (kept["label"], kept["recording_id"]) == (row["label"], row["recording_id"]):
            bad.append(SkippedFile(Path(root) / METADATA, f"{METADATA}:{line}", "baseline",
                                   f"duplicate of line {first} ({rel}): used once", is_file=False))
        else:
            conflicts[rel] = (conflicts.get(rel) or f"conflicting rows in {METADATA}: line {first} says "
                              f"'{kept['label']}' ({kept['recording_id']})") + f", line {line} says '{row['label']}' ({row['recording_id']})"
    return by_path, bad, conflicts


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    rows, bad, conflicts = read_metadata(root)
    yield from bad
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
        if rel in conflicts:
            yield SkippedFile(path, rel, "baseline", f"{conflicts[rel]}: none used")
            continue
        if rel not in rows:
            yield SkippedFile(path, rel, "baseline", f"not listed in {METADATA}")
            continue
        _, row = rows[rel]
        label = resolve_label(row["label"])
        if label.kind == "unresolved":
            yield SkippedFile(path, rel, "baseline", f"label '{row['label']}' is not in the taxonomy: {label.note}")
            continue
        extra = {k: row[k] for k in ("device", "channel") if row.get(k)}
        yield ClipRecord(path=path, rel_path=rel, source="baseline", raw_label=row["label"], label=label,
                         recording_id=f"baseline:{row['recording_id']}",
                         licence=row.get("licence") or DEFAULT_LICENCE, extra=extra)
    for rel in sorted(set(rows) - seen):
        target = root / rel
        reason = (f"listed in {METADATA} (line {rows[rel][0]}) but "
                  + ("it is not a file" if target.exists() else "the file is missing"))
        yield SkippedFile(target, rel, "baseline", reason, is_file=False)
