"""Issue 16, parts 2, 5 and 6 (sources): no input stops a build, no row is lost or mislabelled
silently, and no manifest value reaches yt-dlp as an option."""

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.sources import youtube
from tests.conftest import shot_train, write


def scan(kind, root):
    from gunshot_bench.sources import ClipRecord, get_source

    items = list(get_source(kind).scan(root))
    return [i for i in items if isinstance(i, ClipRecord)], [i for i in items if not isinstance(i, ClipRecord)]


def build(kind, root, out):
    build_dataset(BuildConfig(sources=((kind, str(root)),), out_dir=str(out), workers=1), progress=False)
    return json.loads((out / "build_report.json").read_text())


def all_entries(report) -> dict:
    return {e["rel_path"]: e for e in report["files"] + report["index_entries"]}


@pytest.fixture
def yt(tmp_path) -> Path:
    root = tmp_path / "yt"
    write(root / "audio" / "vid1.wav", shot_train("v1", duration_s=9.0))
    write(root / "audio" / "vid2.wav", shot_train("v2", duration_s=5.0))
    return root


def test_hostile_youtube_manifest_never_stops_the_build(yt, tmp_path):
    long_field = "x" * 140_000
    text = ("video_id,start_s,end_s,label,path\n"
            "vid1,0,4,Glock 17,\n"                  # 2: good
            "vid1,4,inf,Glock 17,\n"                # 3: infinite end
            "vid1,4\n"                              # 4: too few fields
            f"vid1,0,2,{long_field},\n"             # 5: over the csv field limit
            "vid1,0,2,MP5,/etc/passwd\n"            # 6: absolute path
            "vid1,0,2,MP5,../outside.wav\n"         # 7: leaves the root
            "../../etc/x,0,2,MP5,\n"                # 8: id with ../
            "vid2,0,4,AK-47,\n"                     # 9: conflicts with 10
            "vid2,0,4,Glock 17,\n"                  # 10
            "vid1,4,8,Glock 17,\n"                  # 11: good
            "vid1,4,8,Glock 17,\n"                  # 12: duplicate of 11
            "vid1,1,2,MP5,audio\n")                 # 13: a folder, not a file
    (yt / "manifest.csv").write_text(text)
    (tmp_path / "outside.wav").write_bytes((yt / "audio" / "vid2.wav").read_bytes())
    report = build("youtube", yt, tmp_path / "ds")
    entries = all_entries(report)
    expect = {
        "manifest.csv:3": "must be finite", "manifest.csv:4": "line has 2 fields, the header has 5",
        "manifest.csv:5": "field larger than field limit", "manifest.csv:6": "absolute or leaves the collection",
        "manifest.csv:7": "absolute or leaves the collection", "manifest.csv:8": "not a valid id",
        "manifest.csv:9": "conflicting labels", "manifest.csv:10": "conflicting labels",
        "manifest.csv:12": "duplicate of line 11", "manifest.csv:13": "is not a file",
    }
    for where, reason in expect.items():
        assert reason in entries[where]["reason"], (where, entries[where])
    assert "line 9 says 'AK-47', line 10 says 'Glock 17'" in entries["manifest.csv:9"]["reason"]
    assert entries["audio/vid1.wav"]["status"] == "included" and entries["audio/vid1.wav"]["segments"] == 4
    assert entries["audio/vid2.wav"]["status"] == "skipped"  # only conflicting rows: used for neither label
    assert report["summary"]["index_entries_skipped"] == len(expect)


def test_latin1_manifest_names_the_file_and_line_and_goes_on(yt, tmp_path):
    (yt / "manifest.csv").write_bytes("video_id,start_s,end_s,label,notes\n"
                                      "vid1,0,4,Glock 17,ok\n"
                                      "vid2,0,4,AK-47,tir à l'arc\n".encode("latin-1"))
    records, skipped = scan("youtube", yt)
    assert [r.rel_path for r in records] == ["audio/vid1.wav"]
    bad = next(s for s in skipped if s.rel_path == "manifest.csv:3")
    assert "not valid UTF-8 text (byte 0xe0)" in bad.reason


def test_duplicate_baseline_rows_are_reported_and_conflicts_refused(tmp_path):
    root = tmp_path / "base"
    for name in ("a", "b"):
        write(root / f"{name}.wav", shot_train(name))
    (root / "metadata.csv").write_text("path,label,recording_id\n"
                                       "a.wav,Glock 17,shot1\n"
                                       "a.wav,Glock 17,shot1\n"
                                       "b.wav,Glock 17,shot2\n"
                                       "b.wav,AK-47,shot2\n")
    records, skipped = scan("baseline", root)
    assert [r.rel_path for r in records] == ["a.wav"]
    reasons = {s.rel_path: s.reason for s in skipped}
    assert "duplicate of line 2" in reasons["metadata.csv:3"]
    assert "line 4 says 'Glock 17' (shot2), line 5 says 'AK-47' (shot2): none used" in reasons["b.wav"]


def test_non_utf8_file_name_is_skipped_and_the_report_is_written(tmp_path):
    root = tmp_path / "clips"
    write(root / "glock_17" / "good.wav", shot_train("g"))
    bad = os.fsencode(root / "glock_17") + b"/caf\xe9.wav"
    with open(bad, "wb") as f:
        f.write((root / "glock_17" / "good.wav").read_bytes())
    report = build("folder", root, tmp_path / "ds")
    entries = all_entries(report)
    assert entries["glock_17/caf\\xe9.wav"]["status"] == "skipped"
    assert "not valid UTF-8 (byte 0xe9)" in entries["glock_17/caf\\xe9.wav"]["reason"]
    assert entries["glock_17/good.wav"]["status"] == "included"


def test_unreadable_folder_and_folder_named_like_audio_are_reported(tmp_path, monkeypatch):
    root = tmp_path / "clips"
    write(root / "glock_17" / "good.wav", shot_train("g"))
    write(root / "glock_17" / "locked" / "inside.wav", shot_train("i"))
    (root / "glock_17" / "take.wav").mkdir()
    locked = root / "glock_17" / "locked"
    if os.geteuid() == 0:  # root reads any folder: make the kernel's refusal happen in os.scandir itself
        real = os.scandir

        def refuse(path="."):
            if isinstance(path, (str, os.PathLike)) and Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", refuse)
    else:
        locked.chmod(0)
    try:
        report = build("folder", root, tmp_path / "ds")
    finally:
        locked.chmod(stat.S_IRWXU)
    entries = all_entries(report)
    assert "folder cannot be read (Permission denied)" in entries["glock_17/locked/"]["reason"]
    assert "not a file: a folder named like an audio file" in entries["glock_17/take.wav/"]["reason"]
    assert entries["glock_17/good.wav"]["status"] == "included"


# -- part 2: yt-dlp argument hygiene ---------------------------------------------------------

@pytest.fixture
def fake_yt_dlp(tmp_path) -> tuple[Path, Path]:
    """A stand-in for yt-dlp that records its argv, one JSON line per call."""
    log = tmp_path / "calls.jsonl"
    exe = tmp_path / "yt-dlp"
    exe.write_text(f"#!{sys.executable}\nimport json, sys\n"
                   f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    exe.chmod(0o755)
    return exe, log


def test_manifest_values_cannot_become_yt_dlp_options(tmp_path, fake_yt_dlp):
    exe, log = fake_yt_dlp
    root = tmp_path / "yt"
    root.mkdir()
    evil_config = tmp_path / "evil.conf"
    evil_config.write_text(f"--exec touch {tmp_path / 'pwned'}\n")
    (root / "manifest.csv").write_text(
        "video_id,start_s,end_s,label,url\n"
        "dQw4w9WgXcQ,0,2,MP5,\n"                                          # good: built URL
        f"aaaaaaaaaaa,0,2,MP5,--config-locations={evil_config}\n"          # option as url
        "bbbbbbbbbbb,0,2,MP5,file:///etc/passwd\n"                         # scheme not allowed
        "ccccccccccc,0,2,MP5,https://evil.example/watch?v=1\n"             # host not allowed
        "--exec=touch,0,2,MP5,\n"                                          # option as id
        "short,0,2,MP5,\n"                                                 # not a YouTube id, no url
        "ddddddddddd,0,2,MP5,https://youtu.be/ddddddddddd\n")              # good: allowed url
    failed = youtube.download(root, yt_dlp=str(exe))
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[-2:] for c in calls] == [["--", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"],
                                       ["--", "https://youtu.be/ddddddddddd"]]
    assert all("--ignore-config" in c and "--no-exec" in c for c in calls)
    assert len(failed) == 5 and not (tmp_path / "pwned").exists()
    joined = "\n".join(failed)
    for text in ("--config-locations", "file:///etc/passwd", "evil.example", "'--exec=touch'", "'short'"):
        assert text in joined
