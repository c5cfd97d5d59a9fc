import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gunshot_bench.cli import main as cli_main
from gunshot_bench.dataset import build as build_module
from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.dataset.read import load_arrays
from gunshot_bench.dataset.shards import shard_paths
from tests.conftest import shot_train, write


def build(sources, out, **kw):
    return build_dataset(BuildConfig(sources=tuple((k, str(p)) for k, p in sources), out_dir=str(out), workers=2, **kw),
                         progress=False)


@pytest.fixture
def bad_tree(tmp_path: Path) -> Path:
    """Good clips beside every kind of bad input the foundation issue lists."""
    root = tmp_path / "bad"
    good = shot_train("good", duration_s=4.5)
    for k in range(3):
        write(root / "glock_17" / f"good{k}.wav", shot_train(("g", k), duration_s=4.5))
    write(root / "glock_17" / "zero_bytes.wav", np.zeros(0)).write_bytes(b"")
    (root / "glock_17" / "text.wav").write_text("RIFF? no, a shopping list\n" * 50)
    trunc = write(root / "glock_17" / "truncated.wav", good, subtype="PCM_24")
    trunc.write_bytes(trunc.read_bytes()[:-1001])
    nan = good.copy(); nan[500] = np.nan
    write(root / "glock_17" / "nan.wav", nan, subtype="FLOAT")
    inf = good.copy(); inf[700] = np.inf
    write(root / "glock_17" / "inf.wav", inf, subtype="DOUBLE")
    write(root / "glock_17" / "all_zero.wav", np.zeros(44_100 * 3, np.float32))
    write(root / "glock_17" / "one_sample.wav", np.array([0.3], np.float32))
    write(root / "glock_17" / "short.wav", shot_train("short", duration_s=1.5))
    write(root / "AK-47" / "ten_minutes.wav", shot_train("long", 16_000, duration_s=600.0, n_shots=200), 16_000)
    write(root / "AK-47" / "u8_8k.wav", shot_train("u8", 8_000, duration_s=2.5), 8_000, subtype="PCM_U8")
    stereo = np.stack([shot_train("s1", 192_000, 2.2), shot_train("s2", 192_000, 2.2)], axis=1)
    write(root / "AK-47" / "hires_stereo.wav", stereo, 192_000, subtype="PCM_24")
    write(root / "MP5" / "clip.mp3", shot_train("mp3", duration_s=3.0), format="MP3")
    write(root / "MP5" / "clip.ogg", shot_train("ogg", duration_s=3.0), format="OGG", subtype="VORBIS")
    write(root / "MP5" / "Schuss_größe_射击.wav", shot_train("utf", duration_s=2.5))
    (root / "MP5" / "duplicate.wav").write_bytes((root / "glock_17" / "good0.wav").read_bytes())
    (root / "MP5" / "folder.wav").mkdir()
    os.symlink(root / "nowhere.wav", root / "MP5" / "dangling.wav")
    (root / "MP5" / ".DS_Store").write_bytes(b"\x00\x01junk")
    (root / "MP5" / "._clip.wav").write_bytes(b"\x00\x05\x16\x07")
    write(root / "holiday_videos" / "beach.wav", shot_train("beach", duration_s=3.0))
    return root


def test_bad_input_tree_is_accounted_for(bad_tree, tmp_path, capsys):
    assert cli_main(["build", "--source", f"folder={bad_tree}", "--out", str(tmp_path / "ds"),
                     "--variants", "none", "--no-progress"]) == 0
    line = capsys.readouterr().out
    report = json.loads((tmp_path / "ds" / "build_report.json").read_text())
    files = {e["rel_path"]: e for e in report["files"]}
    on_disk = {p.relative_to(bad_tree).as_posix() for p in bad_tree.rglob("*") if p.is_file() or p.is_symlink()}
    assert set(files) == on_disk  # every file (and link) exactly once; the folder named folder.wav is no file
    expect_skipped = {
        "glock_17/zero_bytes.wav": "empty file", "glock_17/text.wav": "not decodable",
        "glock_17/truncated.wav": "truncated WAV", "glock_17/nan.wav": "NaN", "glock_17/inf.wav": "infinite",
        "glock_17/all_zero.wav": "silent", "glock_17/one_sample.wav": "shorter than 0.2 s",
        # scan order is sorted, so MP5/ comes before glock_17/ and keeps the audio; the label clash is named
        "glock_17/good0.wav": "byte-identical to folder/MP5/duplicate.wav, labelled 'MP5' there but 'glock_17' here",
        "MP5/dangling.wav": "dangling", "MP5/.DS_Store": "hidden", "MP5/._clip.wav": "hidden",
        "holiday_videos/beach.wav": "not in the taxonomy",
    }
    for rel, reason in expect_skipped.items():
        assert files[rel]["status"] == "skipped" and reason in files[rel]["reason"], (rel, files[rel])
    included = {rel: e["segments"] for rel, e in files.items() if e["status"] == "included"}
    assert included == {"MP5/duplicate.wav": 2, "glock_17/good1.wav": 2, "glock_17/good2.wav": 2,
                        "AK-47/ten_minutes.wav": 300, "AK-47/u8_8k.wav": 1, "AK-47/hires_stereo.wav": 1,
                        "MP5/clip.mp3": 1, "MP5/clip.ogg": 1, "MP5/Schuss_größe_射击.wav": 1,
                        "glock_17/short.wav": 1}  # 1.5 s: padded to one segment
    assert files["glock_17/short.wav"]["padded"] and files["glock_17/short.wav"]["duration_s"] == 1.5
    assert files["AK-47/hires_stereo.wav"]["sample_rate"] == 192_000 and files["AK-47/hires_stereo.wav"]["channels"] == 2
    assert f"{len(on_disk)} files found: 10 included, {len(on_disk) - 10} skipped" in line and "truncated WAV" in line
    assert "1 shorter than 0.2 s" in line  # the reason keeps its threshold
    waves = np.concatenate([load_arrays(tmp_path / "ds", "clean", s)[0] for s in ("train", "validation", "test")
                            if shard_paths(tmp_path / "ds", "clean", s)])
    assert waves.shape == (312, 88_200) and np.isfinite(waves).all()


def test_same_inputs_and_seed_give_identical_shards(folder_corpus, tmp_path):
    a = build([("folder", folder_corpus)], tmp_path / "a", seed=5)
    b = build([("folder", folder_corpus)], tmp_path / "b", seed=5)
    assert a.fingerprint == b.fingerprint
    ma, mb = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "ab")
    assert ma["shards"] == mb["shards"]
    c = build([("folder", folder_corpus)], tmp_path / "c", seed=6)
    assert c.fingerprint != a.fingerprint


def test_no_recording_in_two_splits_and_rows_trace_back(folder_corpus, tmp_path):
    build([("folder", folder_corpus)], tmp_path / "ds")
    seen = {}
    for split in ("train", "validation", "test"):
        try:
            waves, meta = load_arrays(tmp_path / "ds", "clean", split)
        except FileNotFoundError:
            continue
        for rec in meta["recording_id"]:
            assert seen.setdefault(rec, split) == split
        assert (meta["segment_sha256"].str.len() == 64).all()
    assert len(seen) == 15  # 12 model recordings + 3 category-only


def test_load_dataset_offline(folder_corpus, tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    build([("folder", folder_corpus)], tmp_path / "gunshot-bench")
    monkeypatch.chdir(tmp_path)
    ds = datasets.load_dataset("gunshot-bench", "clean")  # a bare name resolves to the local folder
    total = sum(len(ds[s]) for s in ds)
    manifest = json.loads((tmp_path / "gunshot-bench" / "manifest.json").read_text())
    assert total == sum(manifest["rows"]["clean"].values())
    row = ds["train"].cast_column("audio", datasets.Audio(decode=False))[0]
    x, rate = sf.read(io.BytesIO(row["audio"]["bytes"]))
    assert rate == 44_100 and x.shape == (88_200,)
    names = ds["train"].features["model"].names
    assert {names[m] for m in ds["train"]["model"] if m >= 0} <= {"Glock 17", "AK-47", "MP5"}
    bg = datasets.load_dataset(str(tmp_path / "gunshot-bench"), "background")
    assert sum(len(bg[s]) for s in bg) == 6 and not any(any(bg[s]["is_gunshot"]) for s in bg)


def test_refuses_before_any_work(folder_corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        BuildConfig(sources=(("folder", str(tmp_path / "missing")),), out_dir=str(tmp_path / "o"))
    with pytest.raises(ValueError, match="unknown source kind"):
        BuildConfig(sources=(("dropbox", str(folder_corpus)),), out_dir=str(tmp_path / "o"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not a gunshot-bench dataset"):
        build([("folder", folder_corpus)], other)
    build([("folder", folder_corpus)], tmp_path / "ds", seed=1)
    with pytest.raises(FileExistsError, match="different build"):
        build([("folder", folder_corpus)], tmp_path / "ds", seed=2)
    build([("folder", folder_corpus)], tmp_path / "ds", seed=2, overwrite=True)
    assert json.loads((tmp_path / "ds" / "manifest.json").read_text())["parameters"]["seed"] == 2


def test_interrupted_build_leaves_the_previous_dataset(folder_corpus, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    build([("folder", folder_corpus)], out, seed=1)
    before = (out / "manifest.json").read_text()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module.card, "render_card", crash)
    with pytest.raises(KeyboardInterrupt):
        build([("folder", folder_corpus)], out, seed=1)
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "ds"]  # no staging folder left behind


def test_near_duplicates_across_collections_share_a_group(folder_corpus, tmp_path):
    kaggle = tmp_path / "kaggle"
    x, rate = sf.read(folder_corpus / "AK-47" / "take2.wav", dtype="float32")
    write(kaggle / "AK-47" / "ak47 (1).wav", x * 0.7, rate)  # the same recording re-published, quieter
    build([("folder", folder_corpus), ("kaggle", kaggle)], tmp_path / "ds")
    report = json.loads((tmp_path / "ds" / "build_report.json").read_text())
    files = {(e["source"], e["rel_path"]): e for e in report["files"]}
    a, b = files[("folder", "AK-47/take2.wav")], files[("kaggle", "AK-47/ak47 (1).wav")]
    assert a["group"] == b["group"] and a["split"] == b["split"]
    assert report["near_duplicates"]
