"""The walk shared by loaders of published collections: a metadata file lists the clips.

Every file under the root is yielded once: a clip the metadata lists becomes what the loader's
`make` returns (a ClipRecord, or a SkippedFile with the reason), the metadata files themselves
and any other file are reported as skipped, and a listed clip whose file is missing is
reported as an index entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from gunshot_bench.sources.base import ClipRecord, SkippedFile, precheck, walk_files


def scan_listed(root: Path, source: str, listed: dict[str, dict], metadata_files: set[str],
                make: Callable[[Path, str, dict], ClipRecord | SkippedFile],
                index_name: str) -> Iterator[ClipRecord | SkippedFile]:
    """Walk `root`; `listed` maps posix rel paths to their metadata rows."""
    seen: set[str] = set()
    for path, rel in walk_files(root):
        if rel in metadata_files:
            yield SkippedFile(path, rel, source, "metadata of the collection (read, not audio)")
            continue
        seen.add(rel)
        skipped = precheck(path, rel, source)
        if skipped:
            yield skipped
            continue
        row = listed.get(rel)
        if row is None:
            yield SkippedFile(path, rel, source, f"not listed in {index_name}")
            continue
        yield make(path, rel, row)
    for rel in sorted(set(listed) - seen):
        yield SkippedFile(root / rel, rel, source, f"listed in {index_name} but the file is missing", is_file=False)

