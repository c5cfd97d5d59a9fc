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

from gunshot_bench.errors import UserError
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
    whatever their name, except two kinds that `precheck` then reports so that no path goes
    unmentioned: a folder named like an audio file (`x.wav/`) and a folder that cannot be
    read. Symlinked directories are not followed, which avoids loops."""
    root = Path(root)
    unreadable: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=lambda e: unreadable.append(e.filename)):
        dirnames.sort()
        here = Path(dirpath)
        # os.walk lists a symlink to a directory among dirnames; report it as a file entry so
        # it is accounted for rather than silently ignored.
        entries = sorted(filenames) + sorted(d for d in dirnames if (here / d).is_symlink()
                                             or Path(d).suffix.lower() in AUDIO_EXTENSIONS)
        for name in sorted(entries):
            path = here / name
            yield path, path.relative_to(root).as_posix()
    for name in sorted(str(u) for u in unreadable):
        path = Path(name)
        if path != root and Path(name).suffix.lower() not in AUDIO_EXTENSIONS:  # those were yielded above
            yield path, path.relative_to(root).as_posix()


def printable(rel: str) -> str:
    """A path that may hold bytes that are not UTF-8 (kept by Python as surrogates), made printable."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def precheck(path: Path, rel_path: str, source: str) -> SkippedFile | None:
    """The file-level reasons to skip a file before reading its audio, or None if it may be audio."""
    name = path.name
    if bad_byte := _not_utf8(rel_path):
        return SkippedFile(path, printable(rel_path), source,
                           f"file name is not valid UTF-8 (byte {bad_byte}); rename it to include it")
    if path.is_dir() and not path.is_symlink():
        try:
            with os.scandir(path):
                pass
        except OSError as exc:
            return SkippedFile(path, rel_path + "/", source,
                               f"folder cannot be read ({exc.strerror or exc}): the files in it are not included",
                               is_file=False)
        return SkippedFile(path, rel_path + "/", source,
                           "not a file: a folder named like an audio file (its contents are scanned)", is_file=False)
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


def _not_utf8(text: str) -> str | None:
    """The first byte of `text` that was not valid UTF-8 (read with surrogateescape), as 0xNN."""
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            return f"0x{ord(ch) - 0xDC00:02x}"
    return None


def read_index_csv(path: Path, required: tuple[str, ...], loader: str,
                   source: str | None = None) -> tuple[list[tuple[int, dict]], list[SkippedFile]]:
    """Rows of a collection's index CSV (a manifest or metadata file) with their line numbers,
    and the lines that cannot be used, each a SkippedFile naming `FILE:LINE` and the reason.

    A bad line (too few or too many fields, not UTF-8, over the csv module's field limit)
    never stops the reading: it is reported and the next line is read.

    Raises:
        FileNotFoundError: the CSV is missing (the message says which loader needs it).
        ValueError: required columns are missing (named).
    """
    path = Path(path)
    source = source or loader
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {loader} loader needs a {path.name} (columns {', '.join(required)})")
    rows: list[tuple[int, dict]] = []
    bad: list[SkippedFile] = []

    def skip(line: int, reason: str) -> None:
        bad.append(SkippedFile(path, f"{path.name}:{line}", source, reason, is_file=False))

    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        reader = csv.DictReader(f)
        try:
            fieldnames = reader.fieldnames or []
        except csv.Error as exc:
            raise UserError(f"{path}: the header line cannot be read as CSV ({exc})") from None
        missing = [c for c in required if c not in fieldnames]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)}")
        line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a field over the csv module's limit (131,072 characters)
                line += 1
                skip(line, f"line cannot be read as CSV ({exc})")
                continue
            line = reader.line_num
            if None in row:
                skip(line, f"line has {len(fieldnames) + len(row[None])} fields, the header has {len(fieldnames)}")
            elif any(v is None for v in row.values()):
                skip(line, f"line has {sum(v is not None for v in row.values())} fields, the header has {len(fieldnames)}")
            elif bad_byte := next(filter(None, (_not_utf8(v) for v in row.values())), None):
                skip(line, f"line is not valid UTF-8 text (byte {bad_byte}); save the file as UTF-8")
            else:
                rows.append((line, row))
    return rows, bad


def inside(root: Path, rel: str) -> Path | None:
    """`root / rel` when `rel` is a relative path that stays inside `root`, else None."""
    if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        return None
    return root / rel
