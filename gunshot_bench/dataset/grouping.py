"""Split groups: recordings joined when any of their segments are (near-)duplicates.

A recording's segments share its `recording_id`; when a segment of one recording is the same
audio as a segment of another (the same video cut twice, the Kaggle clips re-published inside
another collection), the two recordings must fall into one split, so they join one group.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from gunshot_bench.dataset.neardup import DuplicatePair, find_near_duplicates
from gunshot_bench.dataset.process import FileResult


class _UnionFind:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller id names the group, so the name does not depend on order
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


@dataclass
class Grouping:
    """`group_of`: recording id -> group id; `strata`: group id -> the label that stratifies it."""

    group_of: dict[str, str]
    strata: dict[str, str]
    duplicates: list[DuplicatePair] = field(default_factory=list)


def stratum_of(label) -> str:
    """Stratify by model, else by category, else by kind (background kinds kept apart)."""
    if label.model:
        return label.model
    if label.category:
        return f"{label.category} (model unknown)"
    if label.is_gunshot:
        return "gunshot (category unknown)"
    return f"background: {label.raw.lower()}"


def group_recordings(results: list[FileResult], duplicates_of: dict[str, str]) -> Grouping:
    """Group the included recordings and choose each group's stratum (its most common label)."""
    uf = _UnionFind()
    ids, prints, owner = [], [], {}
    by_sha: dict[str, str] = {}
    labels: dict[str, Counter] = defaultdict(Counter)
    for result in results:
        if not result.segments or str(result.record.path) in duplicates_of:
            continue
        rec = result.record.recording_id
        uf.find(rec)
        labels[rec][stratum_of(result.record.label)] += len(result.segments)
        for seg in result.segments:
            seg_id = f"{result.record.source}/{result.record.rel_path}@{result.record.start_s}#{seg.index}"
            owner[seg_id] = rec
            ids.append(seg_id)
            prints.append(seg.fingerprint)
            if seg.sha256 in by_sha:
                uf.union(rec, owner[by_sha[seg.sha256]])
            else:
                by_sha[seg.sha256] = seg_id
    pairs = [p for p in find_near_duplicates(ids, prints) if owner[p.a] != owner[p.b]]
    for p in pairs:
        uf.union(owner[p.a], owner[p.b])
    group_of = {rec: uf.find(rec) for rec in labels}
    votes: dict[str, Counter] = defaultdict(Counter)
    for rec, counter in labels.items():
        votes[group_of[rec]].update(counter)
    strata = {g: max(sorted(c), key=lambda k: c[k]) for g, c in votes.items()}
    return Grouping(group_of, strata, pairs)


def fixed_splits(results: list[FileResult], grouping: Grouping) -> tuple[dict[str, str], list[str]]:
    """Group id -> the split its collection fixed (`ClipRecord.split`), and the conflicts.

    A group whose recordings carry two different fixed splits (near-duplicates joined across
    official folds) keeps the first in split order (train, validation, test) and is reported.
    """
    order = ("train", "validation", "test")
    wanted: dict[str, set[str]] = defaultdict(set)
    for result in results:
        r = result.record
        if r.split and result.segments and r.recording_id in grouping.group_of:
            wanted[grouping.group_of[r.recording_id]].add(r.split)
    fixed, conflicts = {}, []
    for group, splits in sorted(wanted.items()):
        fixed[group] = min(splits, key=order.index)
        if len(splits) > 1:
            conflicts.append(f"{group}: its recordings are fixed to {', '.join(sorted(splits, key=order.index))} "
                             f"by their collections; kept in {fixed[group]}")
    return fixed, conflicts
