"""Grouping (issue 13 part 3): slices of one source recording share a split."""

from __future__ import annotations

import json

import pytest

from gunshot_bench.cli import main as cli_main
from gunshot_bench.sources import folder
from gunshot_bench.sources.grouping import GroupBy, slice_id, slice_ids
from tests.conftest import shot_train, write


@pytest.mark.parametrize("stem, expected", [
    ("abc123_0", "abc123"), ("abc123-07", "abc123"), ("rec12_slice3", "rec12"), ("rec12-slice-3", "rec12"),
    ("100032-3-0-0", "100032"), ("7061-6-0-0", "7061"), ("street_take2_part1", "street_take2"),
    ("take1", None), ("gunshot", None), ("ak47", None),
])
def test_slice_id(stem, expected):
    assert slice_id(stem) == expected


def test_a_folder_is_slices_only_when_the_pattern_holds_for_every_file_and_ids_repeat():
    assert slice_ids(["a_0", "a_1", "b_0"]) == {"a_0": "a", "a_1": "a", "b_0": "b"}
    assert slice_ids(["take_1", "take_2", "take_3"]) == {}  # one id: takes, not slices
    assert slice_ids(["a_0", "b_0", "c_0"]) == {}  # nothing repeats: nothing to join
    assert slice_ids(["a_0", "a_1", "b_0", "notes"]) == {}  # a file off the pattern: not a folder of slices


def _slices(root, n_ids=8, n_slices=4):
    for i in range(n_ids):
        for k in range(n_slices):
            write(root / "glock_17" / f"src{i:03d}_{k}.wav", shot_train(("slice", i, k), duration_s=2.2))


def _report(out):
    return json.loads((out / "build_report.json").read_text())


def _build(args, out):
    return cli_main(["build", *args, "--out", str(out), "--variants", "none", "--no-progress", "--workers", "2"])


def test_folder_of_slices_is_grouped_automatically(tmp_path, capsys):
    root = tmp_path / "slices"
    _slices(root)
    assert _build(["--source", f"folder={root}"], tmp_path / "ds") == 0
    out = capsys.readouterr().out
    files = [e for e in _report(tmp_path / "ds")["files"] if e["status"] == "included"]
    assert len(files) == 32
    split_of: dict[str, set] = {}
    for e in files:
        split_of.setdefault(e["rel_path"].split("/")[-1].split("_")[0], set()).add(e["split"])
    assert len(split_of) == 8 and all(len(s) == 1 for s in split_of.values())  # no source in two splits
    assert len({e["group"] for e in files}) == 8 and _report(tmp_path / "ds")["split"]["groups"] == 8
    assert "8 recording groups" in out


def test_group_by_regex_on_any_source(tmp_path):
    root = tmp_path / "sessions"
    for s in "ABCDEF":
        for k in range(3):  # names that follow no slice pattern: only the user's rule can group them
            write(root / "glock_17" / f"sess{s}take{k}x.wav", shot_train(("sess", s, k), duration_s=2.2))
    assert _build(["--source", f"folder={root}", "--group-by", r"sess(?P<id>[A-Z])take"], tmp_path / "ds") == 0
    report = _report(tmp_path / "ds")
    files = [e for e in report["files"] if e["status"] == "included"]
    assert {e["recording_id"] for e in files} == {f"folder:group:{s}" for s in "ABCDEF"}
    assert report["split"]["groups"] == 6 and report["split"]["group_by"] == r"sess(?P<id>[A-Z])take"
    for s in "ABCDEF":
        assert len({e["split"] for e in files if f"sess{s}" in e["rel_path"]}) == 1
    # without the rule every file is its own group
    assert _build(["--source", f"folder={root}"], tmp_path / "plain") == 0
    assert _report(tmp_path / "plain")["split"]["groups"] == 18


def test_group_by_errors_and_unmatched_files(tmp_path, capsys):
    root = tmp_path / "r"
    _slices(root, n_ids=3, n_slices=2)
    assert _build(["--source", f"folder={root}", "--group-by", "src[0-9]+"], tmp_path / "a") == 2
    assert "named group" in capsys.readouterr().err
    assert _build(["--source", f"folder={root}", "--group-by", "(?P<id>["], tmp_path / "b") == 2
    assert _build(["--source", f"folder={root}", "--group-by", r"(?P<id>src00[01])"], tmp_path / "c") == 0
    warnings = _report(tmp_path / "c")["split"]["warnings"]
    assert any("matched no recording id in 2 file(s)" in w for w in warnings)


def test_many_files_per_group_is_warned(tmp_path, capsys):
    root = tmp_path / "few"
    _slices(root, n_ids=3, n_slices=12)
    assert _build(["--source", f"folder={root}"], tmp_path / "ds") == 0
    report = _report(tmp_path / "ds")
    per_split = report["split"]["per_split"]
    assert sum(v["files"] for v in per_split.values()) == 36 and sum(v["groups"] for v in per_split.values()) == 3
    assert all(v["files_per_group"] == 12.0 for v in per_split.values())
    assert len(report["split"]["warnings"]) == len(per_split)
    assert "12.0 files per group" in capsys.readouterr().out


def test_takes_stay_separate_recordings(tmp_path):
    root = tmp_path / "takes"
    for k in range(3):
        write(root / "glock_17" / f"take_{k}.wav", shot_train(("t", k), duration_s=2.2))
    ids = {r.recording_id for r in folder.scan(root)}
    assert len(ids) == 3
    assert GroupBy(r"(?P<id>take)").recording_id("glock_17/take_1.wav") == "take"
