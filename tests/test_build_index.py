"""The build's on-disk index (issue 14 part 3): same split and shards as the in-memory reference.

The reference below runs the build's steps on plain lists and dicts with the library's pure
functions (`process_record`, `find_near_duplicates`, `assign_splits`); the build streams them
through `gunshot_bench.dataset.index`. Both must give the same groups, splits, near-duplicate
pairs and shard rows.
"""

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import soxr

from gunshot_bench.dataset.build import BuildConfig, _row, build_dataset
from gunshot_bench.dataset.grouping import _UnionFind, stratum_of
from gunshot_bench.dataset.neardup import find_near_duplicates
from gunshot_bench.dataset.process import process_record
from gunshot_bench.dataset.report import write_json
from gunshot_bench.dataset.index import LazyList
from gunshot_bench.dataset.shards import file_sha256, iter_rows
from gunshot_bench.dataset.split import SPLITS, assign_splits
from gunshot_bench.sources import ClipRecord, get_source
from tests.conftest import shot_train, write


@pytest.fixture
def dup_corpus(tmp_path: Path) -> Path:
    """4 models x 4 recordings, one of them 3 segments long, a byte-identical copy, two
    near-duplicates (quieter, resampled through 22.05 kHz) in other models' folders, a bad file."""
    root = tmp_path / "corpus"
    models = ("glock_17", "AK-47", "MP5", "M249")
    for model in models:
        for k in range(4):
            write(root / model / f"take{k}.wav", shot_train((model, k), duration_s=6.5 if k == 3 else 2.5))
    (root / "MP5" / "copy.wav").write_bytes((root / "glock_17" / "take1.wav").read_bytes())
    for i, (src, dst) in enumerate((("AK-47", "M249"), ("glock_17", "MP5"))):
        x = shot_train((src, 2), duration_s=2.5) * 0.7
        write(root / dst / f"reupload{i}.wav", soxr.resample(soxr.resample(x, 44_100, 22_050), 22_050, 44_100))
    (root / "AK-47" / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    return root


def _reference(root: Path, seed: int):
    """The build's grouping, split and rows computed in memory, file by file."""
    results = [process_record(r) for r in get_source("folder").scan(root) if isinstance(r, ClipRecord)]
    kept_digest, keep = {}, []
    for res in results:
        if res.segments and kept_digest.setdefault(file_sha256(res.record.path), res.record.path) == res.record.path:
            keep.append(res)
    uf, ids, prints, owner, first_of_sha = _UnionFind(), [], [], {}, {}
    votes = defaultdict(Counter)
    for res in keep:
        rec = res.record.recording_id
        uf.find(rec)
        votes[rec][stratum_of(res.record.label)] += len(res.segments)
        for seg in res.segments:
            seg_id = f"{res.record.source}/{res.record.rel_path}@{res.record.start_s}#{seg.index}"
            owner[seg_id] = rec
            ids.append(seg_id)
            prints.append(seg.fingerprint)
            uf.union(rec, first_of_sha.setdefault(seg.sha256, rec))
    pairs = [p for p in find_near_duplicates(ids, prints) if owner[p.a] != owner[p.b]]
    for p in pairs:
        uf.union(owner[p.a], owner[p.b])
    group_votes = defaultdict(Counter)
    for rec, c in votes.items():
        group_votes[uf.find(rec)].update(c)
    strata = {g: max(sorted(c), key=lambda k: c[k]) for g, c in group_votes.items()}
    split = assign_splits(strata, seed)
    rows = defaultdict(list)
    for res in keep:
        config = "clean" if res.record.label.is_gunshot else "background"
        for seg in res.segments:
            rows[(config, split.assignment[uf.find(res.record.recording_id)])].append(_row(res, seg, seg.wav))
    return {r.record.rel_path: uf.find(r.record.recording_id) for r in keep}, split, pairs, rows


def test_indexed_build_equals_in_memory_reference(dup_corpus, tmp_path):
    seed = 5
    out = tmp_path / "ds"
    build_dataset(BuildConfig(sources=(("folder", str(dup_corpus)),), out_dir=str(out), seed=seed, workers=2),
                  progress=False)
    group_of, split, pairs, rows = _reference(dup_corpus, seed)
    report = json.loads((out / "build_report.json").read_text())

    # the corpus exercises every path: a byte-identical copy, joined near-duplicates, a repaired split
    joined = {seg.split("@")[0] for p in pairs for seg in (p.a, p.b)}
    assert joined >= {"folder/M249/reupload0.wav", "folder/AK-47/take2.wav",
                      "folder/MP5/reupload1.wav", "folder/glock_17/take2.wav"}
    assert any("byte-identical" in e.get("reason", "") for e in report["files"])
    assert split.moves
    assert [(p.a, p.b, p.bit_error) for p in pairs] == \
        [(d["a"], d["b"], d["bit_error"]) for d in report["near_duplicates"]]
    assert report["split"]["moves"] == split.moves and report["split"]["unmet"] == split.unmet
    included = {e["rel_path"]: (e["group"], e["split"]) for e in report["files"] if e["status"] == "included"}
    assert included == {p: (g, split.assignment[g]) for p, g in group_of.items()}
    for config in ("clean", "background"):
        for name in SPLITS:
            assert list(iter_rows(out, config, name)) == rows.get((config, name), []), (config, name)
    assert not list(out.rglob("*.sqlite")) and not list(tmp_path.glob(".ds.building-*"))


def test_write_json_streams_lazy_lists_in_json_dumps_layout(tmp_path):
    entries = [{"source": "folder", "rel_path": "Ünïcode/ß.wav", "segments": 3, "notes": []}, {"x": {"y": [1.5, None]}}]
    obj = {"summary": {"n": 2, "empty": {}}, "files": LazyList(lambda: iter(entries)), "tail": [[], True]}
    write_json(obj, tmp_path / "out.json")
    plain = dict(obj, files=entries)
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == json.dumps(plain, indent=1, ensure_ascii=False)
