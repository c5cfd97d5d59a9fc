"""Split groups: recordings joined when any of their segments are (near-)duplicates.

A recording's segments share its `recording_id`; when a segment of one recording is the same
audio as a segment of another (the same video cut twice, the Kaggle clips re-published inside
another collection), the two recordings must fall into one split, so they join one group.
The segments, their hashes and fingerprints are read from the build's on-disk index
(`gunshot_bench.dataset.index`); only the recordings that join another stay in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gunshot_bench.dataset.index import BuildIndex, GroupOf
from gunshot_bench.dataset.neardup import DuplicatePair


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
    """`group_of`: recording id -> group id (of the kept recordings); `duplicates`: the
    near-duplicate segment pairs that joined recordings."""

    group_of: GroupOf
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


def group_recordings(index: BuildIndex, duplicates_of: dict[str, str]) -> Grouping:
    """Group the kept recordings (segments, not byte-identical to another file) and store each
    group's stratum (its most common label) in `index`.

    Recordings join when they share a segment of identical samples or a near-duplicate segment
    (`neardup`); a group is named by its smallest recording id, so the names do not depend on
    the order of the files.
    """
    index.keep(duplicates_of, stratum_of)
    uf = _UnionFind()
    for recs in index.equal_segment_recordings():
        for rec in recs[1:]:
            uf.union(recs[0], rec)
    found = index.near_duplicate_pairs()
    for _, a_rec, b_rec in found:
        uf.union(a_rec, b_rec)
    joined = {rec: uf.find(rec) for rec in list(uf.parent) if uf.find(rec) != rec}
    index.set_groups(joined)
    return Grouping(index.group_of(), [pair for pair, _, _ in found])
