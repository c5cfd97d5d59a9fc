"""The build's on-disk index: what the build knows about every file and segment, in sqlite.

The main process of a build used to hold every record, every segment's fingerprint and hash,
the near-duplicate buckets and the report entries in memory: ~7 KB per clip, 676 MB at 16 times
study A's corpus. Here they live in one sqlite file in the staging folder (removed before the
build is published), and each step streams over it, so the main process's memory stays flat
with the corpus size. sqlite3 is in the standard library, gives sorted scans and grouped
counts over files larger than memory, and needs no server.

What stays in memory is proportional to the duplicates, not to the corpus: the byte-identical
files, the near-duplicate pairs and the recordings they join.

The steps, and the in-memory functions whose results they reproduce exactly (the tests compare
them on a generated corpus):
- `byte_identical()`: `report`'s rule (the first file of equal bytes is kept);
- `near_duplicate_pairs()`: `neardup.find_near_duplicates` over the kept segments in file order;
- `assign_splits()`: `split.assign_splits` (the same hashing and `split.repair_stratum`).
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from gunshot_bench.dataset.neardup import DuplicatePair, band_keys, bucket_pairs, near_pair, MAX_BUCKET
from gunshot_bench.dataset.process import FileResult
from gunshot_bench.dataset.split import DEFAULT_RATIOS, SPLITS, SplitResult, hashed_split, repair_stratum
from gunshot_bench.sources import ClipRecord, SkippedFile

_SCHEMA = """
CREATE TABLE records (idx INTEGER PRIMARY KEY, blob BLOB);
CREATE TABLE skipped (seq INTEGER PRIMARY KEY, source TEXT, rel_path TEXT, is_file INTEGER, blob BLOB);
CREATE TABLE results (idx INTEGER PRIMARY KEY, source TEXT, rel_path TEXT, path TEXT, digest TEXT,
                      nseg INTEGER, blob BLOB);
CREATE INDEX results_path ON results (path);
CREATE TABLE segments (file_idx INTEGER, pos INTEGER, seg_id TEXT, rec TEXT, sha TEXT, print BLOB,
                       PRIMARY KEY (file_idx, pos)) WITHOUT ROWID;
CREATE TABLE kept (idx INTEGER PRIMARY KEY, rec TEXT, stratum TEXT, nseg INTEGER);
CREATE INDEX kept_rec ON kept (rec);
CREATE TABLE fixed (rec TEXT, split TEXT);
CREATE TABLE ordinals (ord INTEGER PRIMARY KEY, file_idx INTEGER, pos INTEGER);
CREATE TABLE lsh (k INTEGER, ord INTEGER);
CREATE TABLE candidates (p INTEGER, q INTEGER, PRIMARY KEY (p, q)) WITHOUT ROWID;
CREATE TABLE joined (rec TEXT PRIMARY KEY, grp TEXT) WITHOUT ROWID;
CREATE TABLE groups (grp TEXT PRIMARY KEY, stratum TEXT, fixed TEXT, split TEXT) WITHOUT ROWID;
CREATE TABLE entries (seq INTEGER PRIMARY KEY, json TEXT, split TEXT, grp TEXT);
"""

#: Rows per executemany batch: bounds the memory of an insert.
_BATCH = 4096


def _dump(value) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class BuildIndex:
    """The on-disk index of one build (a sqlite file that only this build process opens)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        # A scratch file: a crash loses the staging folder anyway, so no journal and no fsync.
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-8192")  # 8 MiB of page cache, whatever the corpus
        self.db.executescript(_SCHEMA)
        self.records = 0

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)

    # ---- scan ---------------------------------------------------------------------------
    def add_scanned(self, items: Iterable[ClipRecord | SkippedFile]) -> None:
        """Store the scanned records (numbered in scan order) and the skipped files."""
        recs, skips = [], []
        for item in items:
            if isinstance(item, ClipRecord):
                recs.append((self.records, _dump(item)))
                self.records += 1
            else:
                skips.append((item.source, item.rel_path, int(item.is_file), _dump(item)))
            if len(recs) + len(skips) >= _BATCH:
                self._flush_scanned(recs, skips)
        self._flush_scanned(recs, skips)

    def _flush_scanned(self, recs: list, skips: list) -> None:
        self.db.executemany("INSERT INTO records VALUES (?, ?)", recs)
        self.db.executemany("INSERT INTO skipped (source, rel_path, is_file, blob) VALUES (?, ?, ?, ?)", skips)
        recs.clear()
        skips.clear()

    def record(self, idx: int) -> ClipRecord:
        (blob,), = self.db.execute("SELECT blob FROM records WHERE idx = ?", (idx,))
        return pickle.loads(blob)

    def skipped(self, files: bool) -> Iterator[SkippedFile]:
        for (blob,) in self.db.execute("SELECT blob FROM skipped WHERE is_file = ? ORDER BY seq", (int(files),)):
            yield pickle.loads(blob)

    # ---- processing results -------------------------------------------------------------
    def add_result(self, idx: int, result: FileResult, digest: str | None) -> None:
        """Store what became of record `idx`; `digest` is the file's sha256 (None when its worker failed)."""
        r = result.record
        segs = [(idx, pos, f"{r.source}/{r.rel_path}@{r.start_s}#{s.index}", r.recording_id, s.sha256,
                 s.fingerprint.tobytes()) for pos, s in enumerate(result.segments)]
        slim = replace(result, segments=[replace(s, fingerprint=None) for s in result.segments])
        self.db.execute("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (idx, r.source, r.rel_path, str(r.path), digest, len(segs), _dump(slim)))
        self.db.executemany("INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?)", segs)

    def results(self) -> Iterator[tuple[int, FileResult]]:
        """(record index, result) in record order; segments carry no fingerprint."""
        for idx, blob in self.db.execute("SELECT idx, blob FROM results ORDER BY idx"):
            yield idx, pickle.loads(blob)

    def _last_result(self, path: str) -> FileResult:
        (blob,), = self.db.execute("SELECT blob FROM results WHERE path = ? ORDER BY idx DESC LIMIT 1", (path,))
        return pickle.loads(blob)

    # ---- duplicates -----------------------------------------------------------------------
    def byte_identical(self) -> dict[str, str]:
        """Files whose bytes equal an earlier file's: path -> "source/rel_path" of the one kept
        (and the labels when they disagree)."""
        rows = self.db.execute("""
            WITH firsts AS (SELECT digest, MIN(idx) AS first FROM results
                            WHERE nseg > 0 AND digest != '' GROUP BY digest)
            SELECT DISTINCT r.path, k.path FROM results r JOIN firsts f ON r.digest = f.digest
                   JOIN results k ON k.idx = f.first
            WHERE r.nseg > 0 AND r.path != k.path ORDER BY r.idx""").fetchall()
        out = {}
        for path, kept in rows:
            a, b = self._last_result(path).record, self._last_result(kept).record
            conflict = f", labelled '{b.raw_label}' there but '{a.raw_label}' here" if a.label != b.label else ""
            out[path] = f"{b.source}/{b.rel_path}{conflict}"
        return out

    def keep(self, duplicates_of: Mapping[str, str], stratum_of: Callable) -> None:
        """Mark the files that enter the dataset (segments, not byte-identical to another) with
        their recording's stratum label, number their segments in file order and hash them into
        the near-duplicate buckets."""
        ordinal, kept, fixed, ords, lsh = 0, [], [], [], []
        for idx, result in self.results():
            r = result.record
            if r.split and result.segments:
                fixed.append((r.recording_id, r.split))
            if not result.segments or str(r.path) in duplicates_of:
                continue
            kept.append((idx, r.recording_id, stratum_of(r.label), len(result.segments)))
            for pos, (fp,) in enumerate(self.db.execute(
                    "SELECT print FROM segments WHERE file_idx = ? ORDER BY pos", (idx,)).fetchall()):
                ords.append((ordinal, idx, pos))
                lsh.extend((k, ordinal) for k in band_keys(np.frombuffer(fp, np.uint8)))
                ordinal += 1
            if len(lsh) >= _BATCH * 4:
                self._flush_kept(kept, fixed, ords, lsh)
        self._flush_kept(kept, fixed, ords, lsh)
        self.db.execute("CREATE INDEX lsh_k ON lsh (k, ord)")

    def _flush_kept(self, *batches: list) -> None:
        for (table, width), rows in zip((("kept", 4), ("fixed", 2), ("ordinals", 3), ("lsh", 2)), batches):
            self.db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", rows)
            rows.clear()

    def equal_segment_recordings(self) -> Iterator[list[str]]:
        """The recordings sharing a segment of identical samples, one list per such segment."""
        rows = self.db.execute("""
            SELECT s.sha, s.rec FROM segments s JOIN kept k ON s.file_idx = k.idx
            WHERE s.sha IN (SELECT s2.sha FROM segments s2 JOIN kept k2 ON s2.file_idx = k2.idx
                            GROUP BY s2.sha HAVING COUNT(DISTINCT s2.rec) > 1)
            GROUP BY s.sha, s.rec ORDER BY s.sha, s.rec""")
        current, recs = None, []
        for sha, rec in rows:
            if sha != current and recs:
                yield recs
                recs = []
            current = sha
            recs.append(rec)
        if recs:
            yield recs

    def near_duplicate_pairs(self) -> list[tuple[DuplicatePair, str, str]]:
        """Near-duplicate segment pairs of different recordings, as `find_near_duplicates` finds
        them, each with the two recording ids."""
        rows = self.db.execute("""
            SELECT k, ord FROM lsh WHERE k IN (SELECT k FROM lsh GROUP BY k HAVING COUNT(*) BETWEEN 2 AND ?)
            ORDER BY k, ord""", (MAX_BUCKET,))
        current, members, batch = None, [], []
        for k, o in rows:
            if k != current:
                batch += bucket_pairs(members)
                current, members = k, []
            members.append(o)
            if len(batch) >= _BATCH:
                self.db.executemany("INSERT OR IGNORE INTO candidates VALUES (?, ?)", batch)
                batch = []
        batch += bucket_pairs(members)
        self.db.executemany("INSERT OR IGNORE INTO candidates VALUES (?, ?)", batch)
        pairs = []
        query = """SELECT s.seg_id, s.rec, s.print FROM ordinals o
                   JOIN segments s ON s.file_idx = o.file_idx AND s.pos = o.pos WHERE o.ord = ?"""
        for p, q in self.db.execute("SELECT p, q FROM candidates ORDER BY p, q").fetchall():
            (a_id, a_rec, a), = self.db.execute(query, (p,))
            (b_id, b_rec, b), = self.db.execute(query, (q,))
            pair = near_pair(a_id, b_id, np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8))
            if pair is not None and a_rec != b_rec:
                pairs.append((pair, a_rec, b_rec))
        return pairs

    # ---- groups and split -----------------------------------------------------------------
    def set_groups(self, joined: Mapping[str, str]) -> None:
        """Store the recordings joined into another's group (every other recording is its own
        group) and each group's stratum: the label with most segments, the first in sorted order
        on a tie."""
        self.db.executemany("INSERT INTO joined VALUES (?, ?)", sorted(joined.items()))
        rows = self.db.execute("""
            SELECT COALESCE(j.grp, k.rec) AS g, k.stratum, SUM(k.nseg) AS n FROM kept k
            LEFT JOIN joined j ON j.rec = k.rec GROUP BY g, k.stratum ORDER BY g, n DESC, k.stratum""")
        batch, last = [], None
        for group, stratum, _ in rows:
            if group != last:
                batch.append((group, stratum, None, None))
                last = group
            if len(batch) >= _BATCH:
                self.db.executemany("INSERT INTO groups VALUES (?, ?, ?, ?)", batch)
                batch = []
        self.db.executemany("INSERT INTO groups VALUES (?, ?, ?, ?)", batch)

    def group_of(self) -> GroupOf:
        return GroupOf(self.db)

    def fixed_splits(self) -> list[str]:
        """Store each group's split fixed by its collection (`ClipRecord.split`): the first in split
        order when its recordings disagree; return the conflicts (see `grouping.fixed_splits`)."""
        rows = self.db.execute("""
            SELECT DISTINCT COALESCE(j.grp, f.rec) AS g, f.split FROM fixed f LEFT JOIN joined j ON j.rec = f.rec
            WHERE f.rec IN (SELECT rec FROM kept) ORDER BY g""")
        conflicts, chosen_of = [], []

        def choose(group: str | None, splits: set[str]) -> None:
            if group is None:
                return
            chosen = min(splits, key=SPLITS.index)
            chosen_of.append((chosen, group))
            if len(chosen_of) >= _BATCH:  # the groups table is not the one being read
                self.db.executemany("UPDATE groups SET fixed = ? WHERE grp = ?", chosen_of)
                chosen_of.clear()
            if len(splits) > 1:
                conflicts.append(f"{group}: its recordings are fixed to {', '.join(sorted(splits, key=SPLITS.index))} "
                                 f"by their collections; kept in {chosen}")

        group, splits = None, set()
        for g, split in _stream(rows):
            if g != group:
                choose(group, splits)
                group, splits = g, set()
            splits.add(split)
        choose(group, splits)
        self.db.executemany("UPDATE groups SET fixed = ? WHERE grp = ?", chosen_of)
        return conflicts

    def assign_splits(self, seed: int, ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> SplitResult:
        """`split.assign_splits` over the stored groups, one stratum in memory at a time."""
        if abs(sum(ratios) - 1.0) > 1e-9 or min(ratios) <= 0:
            raise ValueError(f"split ratios must be positive and sum to 1, got {ratios}")
        cursor = self.db.execute("SELECT grp, fixed FROM groups ORDER BY grp")
        while rows := cursor.fetchmany(_BATCH):
            self.db.executemany("UPDATE groups SET split = ? WHERE grp = ?",
                                [(fixed or hashed_split(g, seed, ratios), g) for g, fixed in rows])
        moves, unmet = [], []
        rows = self.db.execute("SELECT stratum, grp, split FROM groups WHERE fixed IS NULL ORDER BY stratum, grp")
        stratum, assignment = None, {}

        def repair() -> None:
            if stratum is not None:
                stratum_moves, problem = repair_stratum(stratum, list(assignment), assignment, seed, ratios)
                moves.extend(stratum_moves)
                unmet.extend([problem] if problem else [])

        for st, group, split in _stream(rows):
            if st != stratum:
                repair()
                stratum, assignment = st, {}
            assignment[group] = split
        repair()
        # written after the scan (never update the table a cursor is reading); moves are few
        self.db.executemany("UPDATE groups SET split = ? WHERE grp = ?", [(m["to"], m["group"]) for m in moves])
        return SplitResult(SplitOf(self.db), moves, unmet)

    # ---- report entries -------------------------------------------------------------------
    def report_keys(self) -> Iterator[tuple[tuple[str, str], list[SkippedFile], list[tuple[FileResult, str | None]]]]:
        """Per (source, rel_path) in sorted order: its skipped-file items and its results in record order."""
        rows = self.db.execute("""
            SELECT source, rel_path, 0, seq, blob, NULL FROM skipped WHERE is_file = 1
            UNION ALL SELECT source, rel_path, 1, idx, blob, digest FROM results
            ORDER BY 1, 2, 3, 4""")
        key, skips, results = None, [], []
        for source, rel_path, kind, _, blob, digest in _stream(rows):
            if (source, rel_path) != key:
                if key is not None:
                    yield key, skips, results
                key, skips, results = (source, rel_path), [], []
            (results.append((pickle.loads(blob), digest)) if kind else skips.append(pickle.loads(blob)))
        if key is not None:
            yield key, skips, results

    def digest(self, path: str) -> str:
        """The sha256 of the file at `path` ("" when no worker finished it or it was unreadable)."""
        row = self.db.execute("SELECT digest FROM results WHERE path = ? AND digest IS NOT NULL "
                              "ORDER BY idx DESC LIMIT 1", (path,)).fetchone()
        return row[0] if row else ""

    def add_entries(self, entries: Iterable[tuple[str, str | None, str | None]]) -> None:
        """Store the report's file entries in order: (JSON text, split, group) of each."""
        batch = []
        for e in entries:
            batch.append(e)
            if len(batch) >= _BATCH:
                self.db.executemany("INSERT INTO entries (json, split, grp) VALUES (?, ?, ?)", batch)
                batch = []
        self.db.executemany("INSERT INTO entries (json, split, grp) VALUES (?, ?, ?)", batch)

    def entries(self) -> Iterator[str]:
        for (text,) in _stream(self.db.execute("SELECT json FROM entries ORDER BY seq")):
            yield text

    def group_file_counts(self) -> Iterator[tuple[str, str, int, int]]:
        """(split, group, files, first position) of the included entries, per split in the order
        each group first appears."""
        yield from _stream(self.db.execute("""
            SELECT split, grp, COUNT(*), MIN(seq) AS first FROM entries WHERE split IS NOT NULL
            GROUP BY split, grp ORDER BY split, first"""))


def _stream(cursor: sqlite3.Cursor) -> Iterator[tuple]:
    while rows := cursor.fetchmany(_BATCH):
        yield from rows


class GroupOf:
    """Recording id -> group id of the kept recordings (read from the index)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __getitem__(self, rec: str) -> str:
        row = self.db.execute("SELECT grp FROM joined WHERE rec = ?", (rec,)).fetchone()
        if row is not None:
            return row[0]
        if self.db.execute("SELECT 1 FROM kept WHERE rec = ? LIMIT 1", (rec,)).fetchone() is None:
            raise KeyError(rec)
        return rec

    def __contains__(self, rec: object) -> bool:
        return self.db.execute("SELECT 1 FROM kept WHERE rec = ? LIMIT 1", (rec,)).fetchone() is not None


class SplitOf(Mapping):
    """Group id -> split (read from the index), in sorted group order like `assign_splits`' dict."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __getitem__(self, group: str) -> str:
        row = self.db.execute("SELECT split FROM groups WHERE grp = ?", (group,)).fetchone()
        if row is None:
            raise KeyError(group)
        return row[0]

    def __iter__(self) -> Iterator[str]:
        for (g,) in _stream(self.db.execute("SELECT grp FROM groups ORDER BY grp")):
            yield g

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM groups").fetchone()[0]

    def values(self):  # one scan instead of a query per key
        return (s for (s,) in _stream(self.db.execute("SELECT split FROM groups ORDER BY grp")))


class LazyList:
    """A re-iterable sequence read from the index each time (the report's file entries), so a
    consumer that loops over it (the card, the manifest, the JSON writer) never holds it whole."""

    def __init__(self, source: Callable[[], Iterable], fn: Callable = lambda x: x):
        self.source, self.fn = source, fn

    def __iter__(self):
        return (self.fn(x) for x in self.source())
