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
    """A reason without its specifics (what follows ':', '(' or ';'), to count reasons of one
    kind together. Numbers before that are kept: they are the build's thresholds
    ("shorter than 0.2 s"), the same for every file, and a person needs them.

    >>> reason_class("shorter than 0.2 s (0.113 s): too short to use")
    'shorter than 0.2 s'
    """
    head = re.split(r"[:(;]", reason, maxsplit=1)[0]
    return re.sub(r"\s+", " ", head).strip()


def _skip_entry(s: SkippedFile) -> dict:
    entry = {"source": s.source, "rel_path": s.rel_path, "status": "skipped", "reason": s.reason}
    if s.is_file and s.path.is_file() and not s.path.is_symlink():
        entry["sha256"] = file_sha256(s.path)
        entry["bytes"] = s.path.stat().st_size
    return entry


#: A split whose files average this many per recording group is warned about: its scores
#: rest on few independent recordings (or the files are slices whose grouping was missed).
MANY_FILES_PER_GROUP = 10


def split_groups(ordered: list[dict]) -> tuple[dict[str, dict], list[str]]:
    """Per split: files, groups and files per group; and a warning for each split with many
    files per group, or with one group holding most of its files."""
    files: dict[str, Counter] = {}
    for e in ordered:
        if e["status"] == "included":
            files.setdefault(e["split"], Counter())[e["group"]] += 1
    stats, warnings = {}, []
    for name in ("train", "validation", "test"):
        per_group = files.get(name)
        if not per_group:
            continue
        n_files, n_groups = sum(per_group.values()), len(per_group)
        biggest, biggest_n = per_group.most_common(1)[0]
        stats[name] = {"files": n_files, "groups": n_groups, "files_per_group": round(n_files / n_groups, 2),
                       "largest_group": biggest, "largest_group_files": biggest_n}
        if n_files / n_groups >= MANY_FILES_PER_GROUP:
            warnings.append(f"{name}: {n_files} files in {n_groups} recording group(s) "
                            f"({n_files / n_groups:.1f} files per group): few independent recordings")
        elif n_files >= MANY_FILES_PER_GROUP and biggest_n > n_files / 2:
            warnings.append(f"{name}: one recording group ({biggest}) holds {biggest_n} of its {n_files} files")
    return stats, warnings


def make_report(records: list[ClipRecord], skipped: list[SkippedFile], results: list[FileResult],
                hashes: dict[str, str], duplicates_of: dict[str, str], grouping: Grouping,
                split: SplitResult, group_by: tuple[str, list[str]] = ("", []),
                fixed_conflicts: list[str] = ()) -> dict:
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
                     recording_id=r.recording_id, duration_s=round(result.duration_s, 4))
        if result.padded:
            entry["padded"] = True
        if r.label.note:
            entry["label_note"] = r.label.note
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
    per_split, warnings = split_groups(ordered)
    regex, unmatched = group_by
    if regex and unmatched:
        warnings.append(f"--group-by {regex!r} matched no recording id in {len(unmatched)} file(s) "
                        f"(each kept as its own recording), e.g. {unmatched[0]}")
    return {
        "package_version": __version__,
        "summary": {
            "files_found": len(ordered),
            "files_included": len(ordered) - len(skipped_entries),
            "files_skipped": len(skipped_entries),
            "segments": sum(e.get("segments", 0) for e in ordered),
            "files_padded": sum(1 for e in ordered if e["status"] == "included" and e.get("padded")),
            "skip_reasons": dict(Counter(reason_class(e["reason"]) for e in skipped_entries).most_common()),
            "index_entries_skipped": len(index_entries),
        },
        "files": ordered,
        "index_entries": index_entries,
        "near_duplicates": [{"a": p.a, "b": p.b, "bit_error": p.bit_error} for p in grouping.duplicates],
        "split": {"moves": split.moves, "unmet": split.unmet,
                  "groups": len(split.assignment),
                  "groups_per_split": dict(Counter(split.assignment.values())),
                  "per_split": per_split, "group_by": regex or None, "fixed_conflicts": list(fixed_conflicts),
                  "warnings": warnings},
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
    groups: int = 0
    warnings: list[str] = field(default_factory=list)
    memory: dict = field(default_factory=dict)

    def line(self) -> str:
        """One line: how many files were included and skipped (and why), and the rows per config."""
        total = sum(sum(s.values()) for s in self.segments.values())
        reasons = "; ".join(f"{n} {r}" for r, n in self.skip_reasons.items())
        rows = ", ".join(f"{c} {sum(s.values())}" for c, s in self.segments.items())
        return (f"{self.files_found} files found: {self.files_included} included, {self.files_skipped} skipped"
                f"{' (' + reasons + ')' if reasons else ''}; {self.groups} recording groups; {total} rows ({rows})"
                f" -> {self.out_dir}"
                + (f"; peak memory {self.memory['worker_peak_rss_mb']:.0f} MiB per worker, "
                   f"{self.memory['parent_peak_rss_mb']:.0f} MiB main process" if self.memory else "")
                + "".join(f"\nwarning: {w}" for w in self.warnings))


def summarise(out_dir: Path, build_report: dict, counts: dict, fingerprint: str) -> BuildSummary:
    s = build_report["summary"]
    return BuildSummary(out_dir=out_dir, files_found=s["files_found"], files_included=s["files_included"],
                        files_skipped=s["files_skipped"], segments=counts, skip_reasons=s["skip_reasons"],
                        fingerprint=fingerprint, groups=build_report["split"]["groups"],
                        warnings=build_report["split"]["warnings"])
