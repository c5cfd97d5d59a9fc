import os

import pytest

from gunshot_bench.sources import ClipRecord, SkippedFile, get_source
from gunshot_bench.sources.folder import label_from_path
from gunshot_bench.sources.kaggle import numbered_stem
from tests.conftest import babble, shot_train, write


def scan(kind, root):
    items = list(get_source(kind).scan(root))
    return [i for i in items if isinstance(i, ClipRecord)], [i for i in items if isinstance(i, SkippedFile)]


@pytest.mark.parametrize("rel, kind, category, model", [
    ("pistol/glock_17/take1.wav", "model", "pistol", "Glock 17"),
    ("gunshots/AK-47_C_24.wav", "model", "rifle", "AK-47"),
    ("background/crowd/x.wav", "background", None, None),
    ("pistol/take1.wav", "category", "pistol", None),
    ("rifle/glock_17/x.wav", "category", "rifle", None),  # contradiction: keep the outer, certain level
])
def test_folder_labels_refine_from_outside_in(rel, kind, category, model):
    _, label = label_from_path(rel)
    assert (label.kind, label.category, label.model) == (kind, category, model)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown source kind 'kagle'.*kaggle"):
        get_source("kagle")


def test_folder_accounts_for_every_entry(tmp_path):
    root = tmp_path / "c"
    write(root / "MP5" / "a.wav", shot_train("a"))
    (root / "MP5" / ".DS_Store").write_bytes(b"junk")
    (root / "MP5" / "readme.txt").write_text("hi")
    (root / "MP5" / "dir.wav").mkdir()
    write(root / "MP5" / "dir.wav" / "inner.wav", shot_train("b"))
    os.symlink(root / "missing.wav", root / "MP5" / "dangling.wav")
    write(root / "holiday" / "x.wav", shot_train("c"))
    records, skipped = scan("folder", root)
    assert sorted(r.rel_path for r in records) == ["MP5/a.wav", "MP5/dir.wav/inner.wav"]
    reasons = {s.rel_path: s.reason for s in skipped}
    assert "hidden" in reasons["MP5/.DS_Store"]
    assert "not an audio file" in reasons["MP5/readme.txt"]
    assert "dangling" in reasons["MP5/dangling.wav"]
    assert "not in the taxonomy" in reasons["holiday/x.wav"]
    assert "not a file: a folder named like an audio file" in reasons["MP5/dir.wav/"]  # reported, and descended
    assert len(records) + len(skipped) == 7


def test_kaggle_groups_numbered_stems_and_fixes_m4(tmp_path):
    assert numbered_stem("ak47 (12)") == "ak47" and numbered_stem("m16_003") == "m16"
    root = tmp_path / "kaggle"
    for name in ("ak47 (1).wav", "ak47 (2).wav", "other 1.wav"):
        write(root / "AK-47" / name, shot_train(name, duration_s=2.0))
    write(root / "M4" / "m4 (1).wav", shot_train("m4", duration_s=2.0))
    write(root / "loose.wav", shot_train("loose", duration_s=2.0))
    records, skipped = scan("kaggle", root)
    groups = {r.rel_path: r.recording_id for r in records}
    assert groups["AK-47/ak47 (1).wav"] == groups["AK-47/ak47 (2).wav"] != groups["AK-47/other 1.wav"]
    m4 = next(r for r in records if r.rel_path.startswith("M4/"))
    assert (m4.label.model, m4.label.category) == ("M4", "rifle")
    assert [s.rel_path for s in skipped] == ["loose.wav"]


def test_youtube_manifest_ranges_groups_and_missing_audio(tmp_path):
    root = tmp_path / "yt"
    write(root / "audio" / "vid1.wav", shot_train("v1", duration_s=9.0))
    write(root / "audio" / "stray.wav", shot_train("stray"))
    (root / "manifest.csv").write_text(
        "video_id,start_s,end_s,label,licence\n"
        "vid1,0,4.5,Glock 17,CC-BY-4.0\n"
        "vid1,5,9,Glock 17,CC-BY-4.0\n"
        "vid2,0,4,AK47,\n"
        "vid1,3,1,MP5,\n")
    records, skipped = scan("youtube", root)
    assert [(r.start_s, r.end_s) for r in records] == [(0.0, 4.5), (5.0, 9.0)]
    assert {r.recording_id for r in records} == {"youtube:vid1"}
    reasons = {s.rel_path: s for s in skipped}
    assert "download youtube" in reasons["manifest.csv:4"].reason and not reasons["manifest.csv:4"].is_file
    assert "time range" in reasons["manifest.csv:5"].reason
    assert "not referenced" in reasons["audio/stray.wav"].reason


def test_youtube_download_without_yt_dlp_says_so(tmp_path, monkeypatch):
    from gunshot_bench.sources import youtube

    (tmp_path / "manifest.csv").write_text("video_id,start_s,end_s,label\nabc,0,2,MP5\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="yt-dlp is not installed"):
        youtube.download(tmp_path)


def test_baseline_groups_devices_of_one_shot(tmp_path):
    root = tmp_path / "kabealo"
    for dev in ("dev01", "dev02"):
        write(root / "glock" / f"shot1_{dev}.wav", shot_train(("s1", dev)))
    write(root / "glock" / "shot2_dev01.wav", shot_train("s2"))
    write(root / "unlisted.wav", shot_train("u"))
    (root / "metadata.csv").write_text(
        "path,label,recording_id,device,channel\n"
        "glock/shot1_dev01.wav,Glock 17,shot1,dev01,1\n"
        "glock/shot1_dev02.wav,Glock 17,shot1,dev02,1\n"
        "glock/shot2_dev01.wav,Glock 17,shot2,dev01,1\n"
        "glock/shot3_dev01.wav,Glock 17,shot3,dev01,1\n")
    records, skipped = scan("baseline", root)
    assert [r.recording_id for r in records] == ["baseline:shot1", "baseline:shot1", "baseline:shot2"]
    assert records[0].extra == {"device": "dev01", "channel": "1"}
    reasons = {s.rel_path: s.reason for s in skipped}
    assert "not listed" in reasons["unlisted.wav"]
    assert "missing" in reasons["glock/shot3_dev01.wav"]
    assert "metadata" in reasons["metadata.csv"]


def test_noise_folder_is_background_and_refuses_gunshots(tmp_path):
    write(tmp_path / "crowd" / "a.wav", babble("a"))
    write(tmp_path / "AK-47" / "b.wav", shot_train("b"))
    records, skipped = scan("noise", tmp_path)
    assert [(r.label.kind, r.raw_label) for r in records] == [("background", "crowd")]
    assert "names a gunshot" in skipped[0].reason


def test_index_csv_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="baseline loader needs a metadata.csv"):
        scan("baseline", tmp_path)
    (tmp_path / "manifest.csv").write_text("video_id,start_s,label\nabc,0,MP5\n")
    with pytest.raises(ValueError, match=r"manifest.csv: missing column\(s\) end_s"):
        scan("youtube", tmp_path)
