"""`noise`: a folder of background recordings for noise injection and negatives (`--noise PATH`).

Provenance and licence: whatever the user points to (MUSAN, ESC-50, field recordings, ...);
recorded as "unspecified (user noise)". Every audio file is a non-gunshot recording whatever
its folder is called; its innermost folder name is kept as the raw label (e.g. "crowd"),
which the variants use to choose crowd, scream or street noise. Do not put gunshots here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from gunshot_bench.sources.base import ClipRecord, SkippedFile, precheck, walk_files
from gunshot_bench.taxonomy import Label, resolve_label

LICENCE = "unspecified (user noise)"


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    for path, rel in walk_files(root):
        skipped = precheck(path, rel, "noise")
        if skipped:
            yield skipped
            continue
        parts = PurePosixPath(rel).parts
        raw = parts[-2] if len(parts) > 1 else "noise"
        resolved = resolve_label(raw)
        if resolved.is_gunshot:
            yield SkippedFile(path, rel, "noise", f"folder '{raw}' names a gunshot; a noise folder holds backgrounds only")
            continue
        label = Label(raw=raw, kind="background", category=None, model=None, note="from a --noise folder")
        yield ClipRecord(path=path, rel_path=rel, source="noise", raw_label=raw, label=label,
                         recording_id=f"noise:{PurePosixPath(rel).with_suffix('')}", licence=LICENCE)
