"""`youtube`: segments cut from YouTube videos, listed in a manifest CSV.

Layout: a root folder holding `manifest.csv` and the locally downloaded audio in `audio/`
(one file per video, named `<video_id>.<ext>`, as `gunshot-bench download youtube` writes
it). Manifest columns: `video_id`, `start_s`, `end_s`, `label`, and optionally `path` (a
local audio file relative to the root, instead of `audio/<video_id>.*`), `url` (where to
download from, instead of the YouTube watch page), `licence` and `notes`.

Provenance and licence: each video's uploader holds the rights unless the video says
otherwise (e.g. Creative Commons); the manifest's `licence` column records it per row and
the card lists them. Study A cut its clips from such videos. Labels: the `label` column,
resolved against the taxonomy. Split groups: the video id, so two cuts of one video never
land in different splits.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from gunshot_bench.sources.base import AUDIO_EXTENSIONS, ClipRecord, SkippedFile, precheck, read_index_csv, walk_files
from gunshot_bench.taxonomy import resolve_label

MANIFEST = "manifest.csv"
AUDIO_DIR = "audio"
REQUIRED = ("video_id", "start_s", "end_s", "label")
DEFAULT_LICENCE = "YouTube standard licence unless stated (uploader's rights)"


def read_manifest(root: Path) -> list[dict]:
    return read_index_csv(Path(root) / MANIFEST, REQUIRED, "youtube")


def _audio_for(root: Path, row: dict) -> Path | None:
    if row.get("path"):
        candidate = root / row["path"]
        return candidate if candidate.is_file() else None
    for ext in sorted(AUDIO_EXTENSIONS):
        candidate = root / AUDIO_DIR / f"{row['video_id']}{ext}"
        if candidate.is_file():
            return candidate
    return None


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    rows = read_manifest(root)
    by_file: dict[str, list[tuple[int, dict]]] = {}
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        audio = _audio_for(root, row)
        if audio is None:
            where = f"{MANIFEST}:{i}"
            yield SkippedFile(root / MANIFEST, where, "youtube",
                              f"audio of video '{row['video_id']}' not found; run `gunshot-bench download youtube --root {root}`",
                              is_file=False)
            continue
        by_file.setdefault(audio.relative_to(root).as_posix(), []).append((i, row))
    for path, rel in walk_files(root):
        if rel == MANIFEST:
            yield SkippedFile(path, rel, "youtube", "manifest of the collection (read, not audio)")
            continue
        skipped = precheck(path, rel, "youtube")
        if skipped:
            yield skipped
            continue
        if rel not in by_file:
            yield SkippedFile(path, rel, "youtube", f"not referenced by {MANIFEST}")
            continue
        for line, row in by_file[rel]:
            try:
                start_s, end_s = float(row["start_s"]), float(row["end_s"])
            except ValueError:
                yield SkippedFile(path, f"{MANIFEST}:{line}", "youtube", f"start_s/end_s not numbers: {row['start_s']!r}, {row['end_s']!r}", is_file=False)
                continue
            if not 0 <= start_s < end_s:
                yield SkippedFile(path, f"{MANIFEST}:{line}", "youtube", f"empty or negative time range {start_s}-{end_s} s", is_file=False)
                continue
            label = resolve_label(row["label"])
            if label.kind == "unresolved":
                yield SkippedFile(path, f"{MANIFEST}:{line}", "youtube", f"label '{row['label']}' is not in the taxonomy: {label.note}", is_file=False)
                continue
            yield ClipRecord(path=path, rel_path=rel, source="youtube", raw_label=row["label"], label=label,
                             recording_id=f"youtube:{row['video_id']}", licence=row.get("licence") or DEFAULT_LICENCE,
                             start_s=start_s, end_s=end_s, extra={"manifest_line": line, "notes": row.get("notes", "")})


def download(root: Path, yt_dlp: str | None = None) -> list[str]:
    """Download the audio of every video in `root/manifest.csv` that is not present yet, with yt-dlp.

    This is the only code that touches the network, and only when a user runs it. Returns the
    video ids that failed. Raises RuntimeError when yt-dlp is not installed.
    """
    root = Path(root)
    exe = yt_dlp or shutil.which("yt-dlp")
    if exe is None:
        raise RuntimeError("yt-dlp is not installed: `pip install yt-dlp` (and ffmpeg), then run this again")
    failed = []
    (root / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    for row in {r["video_id"]: r for r in read_manifest(root)}.values():
        if _audio_for(root, row) is not None:
            continue
        url = row.get("url") or f"https://www.youtube.com/watch?v={row['video_id']}"
        out = root / AUDIO_DIR / f"{row['video_id']}.%(ext)s"
        cmd = [exe, "--no-playlist", "-x", "--audio-format", "wav", "-o", str(out), url]
        if subprocess.run(cmd, check=False).returncode != 0:
            failed.append(row["video_id"])
    return failed
