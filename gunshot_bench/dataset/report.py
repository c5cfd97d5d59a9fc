"""The build report: every input file accounted for, and the console summary.

`build_report.json` lists every file found under every source root exactly once, as
included (with its segment count, label, group and split) or skipped (with the reason),
plus index entries that name no file (a manifest row whose audio is missing), the
near-duplicates that were joined, and what the split could not satisfy.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gunshot_bench import __version__
from gunshot_bench.dataset.grouping import Grouping
from gunshot_bench.dataset.process import FileResult
from gunshot_bench.dataset.shards import file_sha256
from gunshot_bench.dataset.split import SplitResult
from gunshot_bench.sources import ClipRecord, SkippedFile


def byte_identical_files(results: list[FileResult], hashes: dict[str, str]) -> dict[str, str]:
    """Files whose bytes equal an earlier file's: path -> "source/rel_path" of the one kept."""
    first: dict[str, str] = {}
    duplicates: dict[str, str] = {}
    for result in results:
        path, digest = str(result.record.path), hashes.get(str(result.record.path))
        if not result.segments or not digest:
            continue
        kept = first.setdefault(digest, path)
        if kept != path:
            duplicates[path] = kept
    records = {str(r.record.path): r.record for r in results}

    def describe(path: str, kept: str) -> str:
        a, b = records[path], records[kept]
        conflict = f", labelled '{b.raw_label}' there but '{a.raw_label}' here" if a.label != b.label else ""
        return f"{b.source}/{b.rel_path}{conflict}"

    return {p: describe(p, k) for p, k in duplicates.items()}


def reason_class(reason: str) -> str:
    """A reason without its specifics (numbers, names), to count reasons of one kind together."""
    head = re.split(r"[:(;]", reason, maxsplit=1)[0]
    return re.sub(r"\s+", " ", re.sub(r"[\d.]+", "N", head)).strip()


def _skip_entry(s: SkippedFile) -> dict:
    entry = {"source": s.source, "rel_path": s.rel_path, "status": "skipped", "reason": s.reason}
    if s.is_file and s.path.is_file() and not s.path.is_symlink():
        entry["sha256"] = file_sha256(s.path)
        entry["bytes"] = s.path.stat().st_size
    return entry


def make_report(records: list[ClipRecord], skipped: list[SkippedFile], results: list[FileResult],
                hashes: dict[str, str], duplicates_of: dict[str, str], grouping: Grouping,
                split: SplitResult) -> dict:
    files: dict[tuple[str, str], dict] = {}
    index_entries = []
    for s in skipped:
        if s.is_file:
            files[(s.source, s.rel_path)] = _skip_entry(s)
        else:
            index_entries.append(_skip_entry(s))
    for result in results:
        r = result.record
        key = (r.source, r.rel_path)
        entry = files.setdefault(key, {"source": r.source, "rel_path": r.rel_path, "status": "skipped", "segments": 0,
                                       "sha256": hashes.get(str(r.path), ""), "reasons": []})
        entry.update(sample_rate=result.orig_sample_rate, channels=result.orig_channels,
                     label_raw=r.raw_label, label_kind=r.label.kind, licence=r.licence, category=r.label.category, model=r.label.model,
                     recording_id=r.recording_id)
        span = "" if r.start_s is None else f" [{r.start_s:g}-{r.end_s:g} s]"
        if str(r.path) in duplicates_of:
            entry["reasons"].append(f"byte-identical to {duplicates_of[str(r.path)]} (kept once)")
        elif result.segments:
            entry["status"] = "included"
            entry["segments"] += len(result.segments)
            entry["group"] = grouping.group_of[r.recording_id]
            entry["split"] = split.assignment[entry["group"]]
        else:
            entry["reasons"].append(f"{result.reason}{span}")
    for entry in files.values():
        reasons = entry.pop("reasons", [])
        if entry["status"] == "skipped" and "reason" not in entry:
            entry["reason"] = "; ".join(reasons)
        elif reasons:
            entry["notes"] = reasons  # e.g. one time range of a file failed, others were used
    ordered = [files[k] for k in sorted(files)]
    skipped_entries = [e for e in ordered if e["status"] == "skipped"]
    return {
        "package_version": __version__,
        "summary": {
            "files_found": len(ordered),
            "files_included": len(ordered) - len(skipped_entries),
            "files_skipped": len(skipped_entries),
            "segments": sum(e.get("segments", 0) for e in ordered),
            "skip_reasons": dict(Counter(reason_class(e["reason"]) for e in skipped_entries).most_common()),
            "index_entries_skipped": len(index_entries),
        },
        "files": ordered,
        "index_entries": index_entries,
        "near_duplicates": [{"a": p.a, "b": p.b, "bit_error": p.bit_error} for p in grouping.duplicates],
        "split": {"moves": split.moves, "unmet": split.unmet,
                  "groups": len(split.assignment),
                  "groups_per_split": dict(Counter(split.assignment.values()))},
    }


@dataclass
class BuildSummary:
    """What a build produced, for the console and for callers."""

    out_dir: Path
    files_found: int
    files_included: int
    files_skipped: int
    segments: dict[str, dict[str, int]] = field(default_factory=dict)
    skip_reasons: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""
    memory: dict = field(default_factory=dict)

    def line(self) -> str:
        """One line: how many files were included and skipped (and why), and the rows per config."""
        total = sum(sum(s.values()) for s in self.segments.values())
        reasons = "; ".join(f"{n} {r}" for r, n in self.skip_reasons.items())
        rows = ", ".join(f"{c} {sum(s.values())}" for c, s in self.segments.items())
        return (f"{self.files_found} files found: {self.files_included} included, {self.files_skipped} skipped"
                f"{' (' + reasons + ')' if reasons else ''}; {total} rows ({rows}) -> {self.out_dir}"
                + (f"; peak memory {self.memory['worker_peak_rss_mb']:.0f} MiB per worker, "
                   f"{self.memory['parent_peak_rss_mb']:.0f} MiB main process" if self.memory else ""))


def summarise(out_dir: Path, build_report: dict, counts: dict, fingerprint: str) -> BuildSummary:
    s = build_report["summary"]
    return BuildSummary(out_dir=out_dir, files_found=s["files_found"], files_included=s["files_included"],
                        files_skipped=s["files_skipped"], segments=counts, skip_reasons=s["skip_reasons"],
                        fingerprint=fingerprint)
