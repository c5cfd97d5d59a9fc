"""Recording ids from file names: slices of one source recording share a split group.

Many collections are slices of longer recordings (`abc123_0.wav`, `abc123_1.wav`, ...). Each
file treated as its own recording puts slices of one source into train and test, which
inflates every score (a real detection set: 84 of 96 test files shared a source with training
files). Two ways to say which files belong together:

- `slice_ids(stems)`: automatic, for the common naming patterns (source id plus a slice number,
  and UrbanSound8K's `fsID-classID-occurrenceID-sliceID`);
- `GroupBy(regex)`: the user's own rule (`--group-by`), a regular expression searched in the
  relative path whose named group gives the recording id.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable

from gunshot_bench.errors import UserError
from gunshot_bench.sources.base import ClipRecord

# UrbanSound8K slice names: the freesound id is the source recording.
_URBANSOUND = re.compile(r"^(?P<id>\d+)-\d+-\d+-\d+$")
# A source id, a separator or a slice word, and a slice number: abc123_0, abc123-07, rec12_slice3,
# "take 2 part 1". The id must end in a letter or digit so "x__3" still reads id "x".
_SLICE = re.compile(r"^(?P<id>.*?[A-Za-z0-9])(?:[-_ .]+(?:slice|seg|segment|part|chunk|cut|piece)?[-_ ]?"
                    r"|(?:slice|seg|segment|part|chunk|cut|piece)[-_ ]?)(?P<n>\d+)$", re.IGNORECASE)


def slice_id(stem: str) -> str | None:
    """The source id of a file stem that follows a slice pattern, else None.

    >>> slice_id("abc123_0"), slice_id("abc123-07"), slice_id("rec12_slice3"), slice_id("100032-3-0-0")
    ('abc123', 'abc123', 'rec12', '100032')
    >>> slice_id("gunshot") is None
    True
    """
    for pattern in (_URBANSOUND, _SLICE):
        m = pattern.match(stem)
        if m:
            return m.group("id")
    return None


def slice_ids(stems: Iterable[str]) -> dict[str, str]:
    """Stem -> source id for the files of one folder, when the folder looks like a folder of slices.

    A folder counts as slices only when every stem follows a slice pattern, at least two source
    ids appear and at least one id has two slices: `take1, take2, take3` (one id) are takes,
    not slices of one recording, and are left alone (each its own recording).
    """
    stems = list(stems)
    ids = {s: slice_id(s) for s in stems}
    if not stems or any(v is None for v in ids.values()):
        return {}
    distinct = set(ids.values())
    if len(distinct) < 2 or len(distinct) == len(stems):
        return {}
    return ids  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class GroupBy:
    """`--group-by REGEX`: the named group (`id`, else the first named group) of a match in the
    record's relative path is its recording id.

    >>> GroupBy(r"(?P<id>[^/]+)_\\d+\\.wav$").recording_id("pistol/abc_3.wav")
    'abc'
    """

    regex: str

    def __post_init__(self) -> None:
        try:
            pattern = re.compile(self.regex)
        except re.error as exc:
            raise UserError(f"--group-by: not a regular expression ({exc}): {self.regex!r}") from None
        if not pattern.groupindex:
            raise UserError(f"--group-by needs a named group for the recording id, e.g. (?P<id>...): {self.regex!r}")

    @functools.cached_property
    def _pattern(self) -> re.Pattern:
        return re.compile(self.regex)

    def recording_id(self, rel_path: str) -> str | None:
        m = self._pattern.search(rel_path)
        if m is None:
            return None
        names = self._pattern.groupindex
        value = m.group("id" if "id" in names else next(iter(names)))
        return value or None

    def apply(self, records: list[ClipRecord]) -> tuple[list[ClipRecord], list[str]]:
        """Records with their recording id replaced where the path matches; the unmatched rel paths.

        The new id keeps the source kind in front (`folder:group:abc`), so two collections never
        share a group by accident of naming.
        """
        out, unmatched = [], []
        for r in records:
            new = self.relabel(r)
            if new is None:
                unmatched.append(f"{r.source}/{r.rel_path}")
            out.append(new or r)
        return out, unmatched

    def relabel(self, record: ClipRecord) -> ClipRecord | None:
        """One record with its recording id replaced (see `apply`), or None when the path does not match."""
        rid = self.recording_id(record.rel_path)
        return None if rid is None else dataclasses.replace(record, recording_id=f"{record.source}:group:{rid}")
