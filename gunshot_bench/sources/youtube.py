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

import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from gunshot_bench.sources.base import (AUDIO_EXTENSIONS, ClipRecord, SkippedFile, inside, precheck, read_index_csv,
                                        walk_files)
from gunshot_bench.taxonomy import resolve_label

MANIFEST = "manifest.csv"
AUDIO_DIR = "audio"
REQUIRED = ("video_id", "start_s", "end_s", "label")
DEFAULT_LICENCE = "YouTube standard licence unless stated (uploader's rights)"


#: A video id as a file name: letters, digits, '-', '_' and inner dots; never a path or an option.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
#: YouTube's own video ids: 11 characters of the URL-safe base64 alphabet.
YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
#: Where `download` may fetch from; a manifest's `url` elsewhere is refused.
ALLOWED_SCHEMES = ("https", "http")
ALLOWED_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be")


def read_manifest(root: Path) -> tuple[list[tuple[int, dict]], list[SkippedFile]]:
    """The manifest's usable rows with their line numbers, and its unreadable lines as skips."""
    return read_index_csv(Path(root) / MANIFEST, REQUIRED, "youtube")


def check_id(video_id: str) -> str | None:
    """Why `video_id` cannot name a file (it could escape `audio/` or read as an option), or None."""
    if not _SAFE_ID.match(video_id) or ".." in video_id:
        return f"video_id {video_id!r:.60} is not a valid id (letters, digits, '-', '_' and '.', not starting with '-')"
    return None


def check_url(url: str) -> str | None:
    """Why yt-dlp must not be given `url`, or None: only http(s) on YouTube's hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or (parts.hostname or "") not in ALLOWED_HOSTS or parts.username:
        return (f"url {url!r:.80} is not allowed: only {'/'.join(ALLOWED_SCHEMES)} URLs on "
                f"{', '.join(ALLOWED_HOSTS)}")
    return None


def _audio_for(root: Path, row: dict) -> tuple[Path | None, str | None]:
    """(audio file of a manifest row, or None; the reason it cannot be used, or None)."""
    if row.get("path"):
        candidate = inside(root, row["path"])
        if candidate is None:
            return None, f"path {row['path']!r:.80} is absolute or leaves the collection folder"
        if candidate.exists() and not candidate.is_file():
            return None, f"path {row['path']!r:.80} is not a file"
        return (candidate if candidate.is_file() else None), None
    if reason := check_id(row["video_id"]):
        return None, reason
    for ext in sorted(AUDIO_EXTENSIONS):
        candidate = root / AUDIO_DIR / f"{row['video_id']}{ext}"
        if candidate.is_file():
            return candidate, None
    return None, None


def _time_range(row: dict) -> tuple[float, float] | str:
    try:
        start_s, end_s = float(row["start_s"]), float(row["end_s"])
    except ValueError:
        return f"start_s/end_s not numbers: {row['start_s']!r:.40}, {row['end_s']!r:.40}"
    if not (math.isfinite(start_s) and math.isfinite(end_s)):
        return f"start_s/end_s must be finite numbers of seconds, got {row['start_s']!r:.40}, {row['end_s']!r:.40}"
    if not 0 <= start_s < end_s:
        return f"empty or negative time range {start_s}-{end_s} s"
    return start_s, end_s


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    root = Path(root)
    rows, bad = read_manifest(root)
    yield from bad
    by_file: dict[str, list[tuple[int, dict]]] = {}
    for i, row in rows:
        where = f"{MANIFEST}:{i}"
        audio, reason = _audio_for(root, row)
        if reason:
            yield SkippedFile(root / MANIFEST, where, "youtube", reason, is_file=False)
        elif audio is None:
            yield SkippedFile(root / MANIFEST, where, "youtube",
                              f"audio of video '{row['video_id']}' not found; run `gunshot-bench download youtube --root {root}`",
                              is_file=False)
        else:
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
        yield from _records(path, rel, by_file[rel])


def _records(path: Path, rel: str, rows: list[tuple[int, dict]]) -> Iterator[ClipRecord | SkippedFile]:
    """The records of one audio file's manifest rows; duplicates reported, conflicting labels refused."""
    ranges: dict[tuple[float, float], list[tuple[int, dict, object]]] = {}
    for line, row in rows:
        where = f"{MANIFEST}:{line}"
        span = _time_range(row)
        if isinstance(span, str):
            yield SkippedFile(path, where, "youtube", span, is_file=False)
            continue
        label = resolve_label(row["label"])
        if label.kind == "unresolved":
            yield SkippedFile(path, where, "youtube", f"label '{row['label']}' is not in the taxonomy: {label.note}", is_file=False)
            continue
        ranges.setdefault(span, []).append((line, row, label))
    used = 0
    for (start_s, end_s), same in ranges.items():
        line, row, label = same[0]
        labels = {lab for _, _, lab in same}
        if len(labels) > 1:
            said = ", ".join(f"line {n} says '{r['label']}'" for n, r, _ in same)
            for n, _, _ in same:
                yield SkippedFile(path, f"{MANIFEST}:{n}", "youtube",
                                  f"conflicting labels for {rel} {start_s:g}-{end_s:g} s ({said}): none used",
                                  is_file=False)
            continue
        for n, _, _ in same[1:]:
            yield SkippedFile(path, f"{MANIFEST}:{n}", "youtube",
                              f"duplicate of line {line} (same audio, range and label): used once", is_file=False)
        used += 1
        yield ClipRecord(path=path, rel_path=rel, source="youtube", raw_label=row["label"], label=label,
                         recording_id=f"youtube:{row['video_id']}", licence=row.get("licence") or DEFAULT_LICENCE,
                         start_s=start_s, end_s=end_s, extra={"manifest_line": line, "notes": row.get("notes", "")})
    if not used:  # the file itself must still appear in the report
        lines = ", ".join(str(n) for n, _ in rows)
        yield SkippedFile(path, rel, "youtube", f"no usable row in {MANIFEST} (line {lines}; see their reasons)")


def download(root: Path, yt_dlp: str | None = None) -> list[str]:
    """Download the audio of every video in `root/manifest.csv` that is not present yet, with yt-dlp.

    This is the only code that touches the network, and only when a user runs it. Every value
    from the manifest that reaches yt-dlp is checked first (the id against `check_id`, or
    YouTube's id pattern when the URL is built from it; the URL against `check_url`) and the
    URL is passed after `--`, so no manifest value can be read as a yt-dlp option (such as
    `--exec` or `--config-locations`). Returns the refused or failed rows as
    "video_id: reason". Raises RuntimeError when yt-dlp is not installed.
    """
    root = Path(root)
    exe = yt_dlp or shutil.which("yt-dlp")
    if exe is None:
        raise RuntimeError("yt-dlp is not installed: `pip install yt-dlp` (and ffmpeg), then run this again")
    failed = []
    (root / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    rows, bad = read_manifest(root)
    failed += [f"{b.rel_path}: {b.reason}" for b in bad]
    for line, row in {r["video_id"]: (n, r) for n, r in rows}.values():
        where = f"{MANIFEST}:{line} ({row['video_id']!r:.40})"
        if row.get("path"):
            continue  # a local file: nothing to download
        if reason := check_id(row["video_id"]):
            failed.append(f"{where}: {reason}")
            continue
        if _audio_for(root, row)[0] is not None:
            continue
        reason = None
        if row.get("url"):
            reason = check_url(row["url"])
        elif not YOUTUBE_ID.match(row["video_id"]):
            reason = f"video_id {row['video_id']!r} is not a YouTube id (11 letters, digits, '-' or '_') and no url is given"
        if reason:
            failed.append(f"{where}: {reason}")
            continue
        url = row.get("url") or f"https://www.youtube.com/watch?v={row['video_id']}"
        out = root / AUDIO_DIR / f"{row['video_id']}.%(ext)s"
        cmd = [exe, "--ignore-config", "--no-playlist", "--no-exec", "-x", "--audio-format", "wav",
               "-o", str(out), "--", url]
        if subprocess.run(cmd, check=False).returncode != 0:
            failed.append(f"{where}: yt-dlp failed")
    return failed
