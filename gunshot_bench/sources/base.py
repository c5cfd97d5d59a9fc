"""Clip records: what every collection loader yields.

A loader walks its collection root and yields, for every file it finds there, exactly one
`ClipRecord` (use it) or `SkippedFile` (do not, and why), so that the build report can
account for every input file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gunshot_bench.taxonomy import Label

#: File endings that soundfile (libsndfile) decodes.
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"})


@dataclass(frozen=True)
class ClipRecord:
    """One audio file, or one time range of it, to include in the dataset.

    Attributes:
        path: absolute path of the audio file.
        rel_path: path relative to the collection root (stable across machines).
        source: collection kind ("kaggle", "youtube", "baseline", "folder", "sim").
        raw_label: the label as the collection states it.
        label: the label resolved against the taxonomy.
        recording_id: the split group: every segment of one recording shares it.
        licence: licence of the audio (SPDX id or a short statement).
        start_s, end_s: optional time range within the file (None: the whole file).
        extra: collection-specific metadata kept for the manifest (device, channel, ...).
        split: the split the collection itself assigns (its official folds or dev/eval
            partition), which the build keeps; None lets the build's grouped split decide.
    """

    path: Path
    rel_path: str
    source: str
    raw_label: str
    label: Label
    recording_id: str
    licence: str
    start_s: float | None = None
    end_s: float | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    split: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file found under a collection root that is not used, with a reason a person understands.

    `is_file` is False for an entry of a collection's index (e.g. a manifest row whose audio is
    missing) rather than a file on disk; the build report lists those apart from the files.
    """

    path: Path
    rel_path: str
    source: str
    reason: str
    is_file: bool = True


def walk_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every non-directory entry below `root` (files, symlinks, dangling links), sorted, as
    (absolute path, posix path relative to root). Directories are descended, never yielded,
    whatever their name (a directory called `x.wav` is not a file). Symlinked directories are
    not followed, which avoids loops."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        # os.walk lists a symlink to a directory among dirnames; report it as a file entry so
        # it is accounted for rather than silently ignored.
        entries = sorted(filenames) + sorted(d for d in dirnames if (here / d).is_symlink())
        for name in sorted(entries):
            path = here / name
            yield path, path.relative_to(root).as_posix()


def precheck(path: Path, rel_path: str, source: str) -> SkippedFile | None:
    """The file-level reasons to skip a file before reading its audio, or None if it may be audio."""
    name = path.name
    if name.startswith("."):
        return SkippedFile(path, rel_path, source, "hidden file (name starts with '.')")
    if path.is_symlink() and not path.exists():
        return SkippedFile(path, rel_path, source, f"dangling symbolic link to {os.readlink(path)}")
    if path.is_dir():
        return SkippedFile(path, rel_path, source, "symbolic link to a directory (not followed)")
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        return SkippedFile(path, rel_path, source, f"not an audio file (extension '{path.suffix}')")
    if path.stat().st_size == 0:
        return SkippedFile(path, rel_path, source, "empty file (0 bytes)")
    return None


def read_index_csv(path: Path, required: tuple[str, ...], loader: str) -> list[dict]:
    """Rows of a collection's index CSV (a manifest or metadata file), checked for its columns.

    Raises:
        FileNotFoundError: the CSV is missing (the message says which loader needs it).
        ValueError: required columns are missing (named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {loader} loader needs a {path.name} (columns {', '.join(required)})")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)
