"""Loaders of UrbanSound8K, ESC-50 and FSD50K (issue 13 part 4), on tiny generated copies of their layouts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gunshot_bench.cli import main as cli_main
from gunshot_bench.dataset.shards import shard_paths
from gunshot_bench.sources import ClipRecord, SkippedFile, esc50, fsd50k, get_source, urbansound8k
from tests.conftest import babble, shot_train, write

US8K_CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
                "gun_shot", "jackhammer", "siren", "street_music"]


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def us8k(tmp_path) -> Path:
    """Every fold holds two slices of one gun_shot recording and one dog_bark slice (real file names)."""
    root = tmp_path / "UrbanSound8K"
    rows = []
    for fold in range(1, 11):
        fs_gun, fs_dog = 100000 + fold, 200000 + fold
        for k in range(2):
            name = f"{fs_gun}-6-0-{k}.wav"
            write(root / "audio" / f"fold{fold}" / name, shot_train(("us8k", fold, k), duration_s=1.2 + 0.5 * k))
            rows.append([name, fs_gun, 0.5 * k, 0.5 * k + 1.2, 1, fold, 6, "gun_shot"])
        name = f"{fs_dog}-3-1-0.wav"
        write(root / "audio" / f"fold{fold}" / name, babble(("dog", fold), duration_s=2.5))
        rows.append([name, fs_dog, 0.0, 2.5, 2, fold, 3, "dog_bark"])
    rows.append(["999-6-0-0.wav", 999, 0, 1, 1, 3, 6, "gun_shot"])  # listed, no file
    write(root / "audio" / "fold3" / "stray-1-1-1.wav", babble("stray", duration_s=1.0))  # file, not listed
    _csv(root / urbansound8k.METADATA, ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"], rows)
    return root


def test_urbansound8k_scan_labels_groups_and_folds(us8k):
    items = list(urbansound8k.scan(us8k))
    records = [i for i in items if isinstance(i, ClipRecord)]
    skipped = {i.rel_path: i for i in items if isinstance(i, SkippedFile)}
    assert len(records) == 30
    gun = [r for r in records if r.raw_label == "gun_shot"]
    assert len(gun) == 20 and all(r.label.is_gunshot and r.label.category is None for r in gun)
    assert all(not r.label.is_gunshot for r in records if r.raw_label == "dog_bark")
    for r in records:
        fold = int(r.rel_path.split("/")[1].removeprefix("fold"))
        assert r.split == urbansound8k.FOLD_SPLITS[fold] and r.extra["fold"] == str(fold)
        assert r.recording_id == f"urbansound8k:{r.path.name.split('-')[0]}"
        assert r.licence.startswith("CC-BY-NC-3.0")
    assert "not listed" in skipped["audio/fold3/stray-1-1-1.wav"].reason
    assert not skipped["audio/fold3/999-6-0-0.wav"].is_file and "missing" in skipped["audio/fold3/999-6-0-0.wav"].reason
    assert "metadata" in skipped[urbansound8k.METADATA].reason
    assert {8: "train", 9: "validation", 10: "test"} == {f: urbansound8k.FOLD_SPLITS[f] for f in (8, 9, 10)}


def _rows(out: Path, config: str) -> list[dict]:
    return [dict(r, split=s) for s in ("train", "validation", "test") for p in shard_paths(out, config, s)
            for r in pq.read_table(p, columns=["rel_path", "recording_id", "licence", "padded", "is_gunshot"]).to_pylist()]


def test_urbansound8k_build_keeps_the_official_folds_and_the_licence(us8k, tmp_path):
    out = tmp_path / "ds"
    assert cli_main(["build", "--source", f"urbansound8k={us8k}", "--out", str(out), "--variants", "none",
                     "--no-progress", "--workers", "2"]) == 0
    clean, background = _rows(out, "clean"), _rows(out, "background")
    assert len(clean) == 20 and len(background) == 10  # 1.2 and 1.7 s slices pad to one segment, 2.5 s cuts to one
    for row in clean + background:
        fold = int(row["rel_path"].split("/")[1].removeprefix("fold"))
        assert row["split"] == urbansound8k.FOLD_SPLITS[fold]  # the fold decides, not the hash
        assert row["licence"] == urbansound8k.LICENCE
    assert all(r["padded"] for r in clean) and not any(r["padded"] for r in background)
    report = json.loads((out / "build_report.json").read_text())
    assert report["split"]["groups"] == 20  # one per fsID
    card = (out / "README.md").read_text()
    assert "Non-commercial licences" in card and urbansound8k.LICENCE in card


@pytest.fixture
def esc(tmp_path) -> Path:
    root = tmp_path / "ESC-50-master"
    rows = []
    for fold in range(1, 6):
        for k, (cat, target, esc10) in enumerate([("fireworks", 48, "False"), ("dog", 0, "True")]):
            src = 50000 + 10 * fold + k
            name = f"{fold}-{src}-A-{target}.wav"
            write(root / "audio" / name, babble(("esc", fold, k), duration_s=5.0))
            rows.append([name, fold, target, cat, esc10, src, "A"])
    _csv(root / esc50.METADATA, ["filename", "fold", "target", "category", "esc10", "src_file", "take"], rows)
    return root


def test_esc50_scan_negatives_folds_and_per_row_licence(esc):
    records = [i for i in esc50.scan(esc) if isinstance(i, ClipRecord)]
    assert len(records) == 10 and not any(r.label.is_gunshot for r in records)
    for r in records:
        fold = int(r.path.name.split("-")[0])
        assert r.split == esc50.FOLD_SPLITS[fold]
        assert r.licence == (esc50.LICENCE_ESC10 if r.raw_label == "dog" else esc50.LICENCE)
        assert r.recording_id == f"esc50:{r.path.name.split('-')[1]}"
    assert {r.split for r in records} == {"train", "validation", "test"}


@pytest.fixture
def fsd(tmp_path) -> Path:
    root = tmp_path / "FSD50K"
    dev = [["1001", "Gunshot_and_gunfire,Explosion", "/m/032s66,/m/014zdl", "train"],
           ["1002", "Machine_gun,Gunshot_and_gunfire,Explosion", "/m/04zjc,/m/032s66,/m/014zdl", "val"],
           ["1003", "Cap_gun,Explosion", "/m/073cg4,/m/014zdl", "train"],
           ["1004", "Bark,Dog,Animal", "/m/05tny_,/m/0bt9lr,/m/0jbk", "train"]]
    evl = [["2001", "Fusillade,Gunshot_and_gunfire,Explosion", "/m/0g6b5,/m/032s66,/m/014zdl"],
           ["2002", "Fireworks,Explosion", "/m/0g6b5,/m/014zdl"]]
    _csv(root / fsd50k.DEV, ["fname", "labels", "mids", "split"], dev)
    _csv(root / fsd50k.EVAL, ["fname", "labels", "mids"], evl)
    _csv(root / fsd50k.VOCABULARY, ["index", "label", "mid"], [[0, "Gunshot_and_gunfire", "/m/032s66"]])
    for fname, *_ in dev:
        write(root / fsd50k.AUDIO["dev"] / f"{fname}.wav", shot_train(("fsd", fname), duration_s=1.0))
    for fname, *_ in evl:
        write(root / fsd50k.AUDIO["eval"] / f"{fname}.wav", shot_train(("fsd", fname), duration_s=3.0))
    info = {"1001": {"license": "http://creativecommons.org/licenses/by-nc/3.0/", "uploader": "a"},
            "1002": {"license": "http://creativecommons.org/publicdomain/zero/1.0/", "uploader": "b"},
            "1003": {"license": "http://creativecommons.org/licenses/by/3.0/", "uploader": "c"},
            "1004": {"license": "http://creativecommons.org/licenses/sampling+/1.0/", "uploader": "d"}}
    (root / fsd50k.INFO["dev"]).parent.mkdir(parents=True, exist_ok=True)
    (root / fsd50k.INFO["dev"]).write_text(json.dumps(info))
    return root


def test_fsd50k_labels_splits_and_clip_licences(fsd, tmp_path):
    items = list(fsd50k.scan(fsd))
    records = {i.path.stem: i for i in items if isinstance(i, ClipRecord)}
    assert set(records) == {"1001", "1002", "1003", "1004", "2001", "2002"}
    gun = {k for k, r in records.items() if r.label.is_gunshot}
    assert gun == {"1001", "1002", "2001"}  # cap gun, dog and fireworks are negatives
    assert records["1002"].label.category is None  # AudioSet "Machine gun" is automatic fire, not the category
    assert "toy" in records["1003"].label.note
    assert {k: r.split for k, r in records.items()} == {"1001": "train", "1002": "validation", "1003": "train",
                                                       "1004": "train", "2001": "test", "2002": "test"}
    assert records["1001"].licence == "CC-BY-NC-3.0" and records["1002"].licence == "CC0-1.0"
    assert records["1004"].licence == "CC-SAMPLING+-1.0" and records["2001"].licence == fsd50k.LICENCE
    skipped = {i.rel_path: i.reason for i in items if isinstance(i, SkippedFile)}
    assert set(skipped) == {fsd50k.DEV, fsd50k.EVAL, fsd50k.VOCABULARY, fsd50k.INFO["dev"]}
    out = tmp_path / "ds"
    assert cli_main(["build", "--source", f"fsd50k={fsd}", "--out", str(out), "--variants", "none",
                     "--no-progress", "--workers", "2"]) == 0
    rows = {r["rel_path"].split("/")[-1][:-4]: r for r in _rows(out, "clean") + _rows(out, "background")}
    assert rows["1001"]["split"] == "train" and rows["1002"]["split"] == "validation" and rows["2001"]["split"] == "test"
    assert rows["1001"]["licence"] == "CC-BY-NC-3.0" and rows["1001"]["padded"]


def test_loaders_are_registered_and_document_provenance():
    for kind, module in (("urbansound8k", urbansound8k), ("esc50", esc50), ("fsd50k", fsd50k)):
        assert get_source(kind) is module
        doc = module.__doc__
        assert "Provenance" in doc and "Licence" in doc and "Layout" in doc and "split" in doc.lower()


def test_missing_metadata_is_a_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="urbansound8k loader needs"):
        list(urbansound8k.scan(tmp_path / "empty"))
