"""The build report: every input file accounted for, and the console summary.

`build_report.json` lists every file found under every source root exactly once, as
included (with its segment count, label, group and split) or skipped (with the reason),
plus index entries that name no file (a manifest row whose audio is missing), the
near-duplicates that were joined, and what the split could not satisfy.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gunshot_bench import __version__
from gunshot_bench.dataset.grouping import Grouping
from gunshot_bench.dataset.index import BuildIndex, LazyList
from gunshot_bench.dataset.shards import file_sha256
from gunshot_bench.dataset.split import SplitResult
from gunshot_bench.sources import SkippedFile


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


def split_groups(group_files: Iterable[tuple[str, str, int, int]]) -> tuple[dict[str, dict], list[str]]:
    """Per split: files, groups and files per group; and a warning for each split with many
    files per group, or with one group holding most of its files.

    `group_files` gives (split, group, files, first position) per included group, grouped by
    split and in order of first position (the largest group on a tie is the first one met).
    """
    totals: dict[str, list] = {}
    for name, group, n, _ in group_files:
        t = totals.setdefault(name, [0, 0, None, 0])  # files, groups, largest, its files
        t[0] += n
        t[1] += 1
        if n > t[3]:
            t[2], t[3] = group, n
    stats, warnings = {}, []
    for name in ("train", "validation", "test"):
        if name not in totals:
            continue
        n_files, n_groups, biggest, biggest_n = totals[name]
        stats[name] = {"files": n_files, "groups": n_groups, "files_per_group": round(n_files / n_groups, 2),
                       "largest_group": biggest, "largest_group_files": biggest_n}
        if n_files / n_groups >= MANY_FILES_PER_GROUP:
            warnings.append(f"{name}: {n_files} files in {n_groups} recording group(s) "
                            f"({n_files / n_groups:.1f} files per group): few independent recordings")
        elif n_files >= MANY_FILES_PER_GROUP and biggest_n > n_files / 2:
            warnings.append(f"{name}: one recording group ({biggest}) holds {biggest_n} of its {n_files} files")
    return stats, warnings


def _file_entry(index: BuildIndex, skips: list[SkippedFile], results: list, duplicates_of: Mapping[str, str],
                grouping: Grouping, split: SplitResult) -> dict:
    """The report entry of one (source, rel_path): a skipped file, or what its records gave."""
    entry = None
    for s in skips:
        entry = _skip_entry(s)
    for result, _ in results:
        r = result.record
        if entry is None:
            entry = {"source": r.source, "rel_path": r.rel_path, "status": "skipped", "segments": 0,
                     "sha256": index.digest(str(r.path)), "reasons": []}
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
    reasons = entry.pop("reasons", [])
    if entry["status"] == "skipped" and "reason" not in entry:
        entry["reason"] = "; ".join(reasons)
    elif reasons:
        entry["notes"] = reasons  # e.g. one time range of a file failed, others were used
    return entry


def make_report(index: BuildIndex, duplicates_of: Mapping[str, str], grouping: Grouping,
                split: SplitResult, group_by: tuple[str, list[str]] = ("", []),
                fixed_conflicts: list[str] = ()) -> dict:
    """The build report. Its "files" is a `LazyList` read back from `index` (where the entries are
    stored, one per input file): write it with `write_json`, never `json.dumps`."""
    found = skipped = segments = padded = 0
    skip_reasons: Counter = Counter()

    def entries() -> Iterator[tuple[str, str | None, str | None]]:
        nonlocal found, skipped, segments, padded
        for _, skips, results in index.report_keys():
            e = _file_entry(index, skips, results, duplicates_of, grouping, split)
            found += 1
            segments += e.get("segments", 0)
            if e["status"] == "skipped":
                skipped += 1
                skip_reasons[reason_class(e["reason"])] += 1
            elif e.get("padded"):
                padded += 1
            yield json.dumps(e, ensure_ascii=False), e.get("split"), e.get("group")

    index.add_entries(entries())
    index_entries = [_skip_entry(s) for s in index.skipped(files=False)]
    per_split, warnings = split_groups(index.group_file_counts())
    regex, unmatched = group_by
    if regex and unmatched:
        warnings.append(f"--group-by {regex!r} matched no recording id in {len(unmatched)} file(s) "
                        f"(each kept as its own recording), e.g. {unmatched[0]}")
    groups_per_split = Counter(split.assignment.values())
    return {
        "package_version": __version__,
        "summary": {
            "files_found": found,
            "files_included": found - skipped,
            "files_skipped": skipped,
            "segments": segments,
            "files_padded": padded,
            "skip_reasons": dict(skip_reasons.most_common()),
            "index_entries_skipped": len(index_entries),
        },
        "files": LazyList(index.entries, json.loads),
        "index_entries": index_entries,
        "near_duplicates": [{"a": p.a, "b": p.b, "bit_error": p.bit_error} for p in grouping.duplicates],
        "split": {"moves": split.moves, "unmet": split.unmet,
                  "groups": len(split.assignment),
                  "groups_per_split": dict(groups_per_split),
                  "per_split": per_split, "group_by": regex or None, "fixed_conflicts": list(fixed_conflicts),
                  "warnings": warnings},
    }


def write_json(obj, path: Path) -> None:
    """Write `obj` as `json.dumps(obj, indent=1, ensure_ascii=False)` would, streaming any
    `LazyList` inside it (the report's files, the manifest's inputs) instead of holding it."""
    with open(path, "w", encoding="utf-8") as fh:
        _write(obj, fh, 0)


def _write(obj, fh, level: int) -> None:
    if isinstance(obj, dict):
        items, opening, closing = ((json.dumps(str(k), ensure_ascii=False) + ": ", v) for k, v in obj.items()), "{", "}"
    elif isinstance(obj, (list, tuple, LazyList)):
        items, opening, closing = (("", v) for v in obj), "[", "]"
    else:
        fh.write(json.dumps(obj, ensure_ascii=False))
        return
    pad = "\n" + " " * (level + 1)
    first = True
    for prefix, value in items:
        fh.write((opening if first else ",") + pad + prefix)
        _write(value, fh, level + 1)
        first = False
    fh.write(opening + closing if first else "\n" + " " * level + closing)


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
                   f"{self.memory['parent_peak_rss_mb']:.0f} MiB main process" if self.memory.get("worker_peak_rss_mb")
                   else f"; peak memory {self.memory['parent_peak_rss_mb']:.0f} MiB main process" if self.memory else "")
                + "".join(f"\nwarning: {w}" for w in self.warnings))


def summarise(out_dir: Path, build_report: dict, counts: dict, fingerprint: str) -> BuildSummary:
    s = build_report["summary"]
    return BuildSummary(out_dir=out_dir, files_found=s["files_found"], files_included=s["files_included"],
                        files_skipped=s["files_skipped"], segments=counts, skip_reasons=s["skip_reasons"],
                        fingerprint=fingerprint, groups=build_report["split"]["groups"],
                        warnings=build_report["split"]["warnings"])
