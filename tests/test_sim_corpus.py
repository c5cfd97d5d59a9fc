"""The simulated corpus: presets, layout, metadata, determinism, bad input, the `sim` loader."""

from __future__ import annotations

import csv
import filecmp
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gunshot_bench.audio import n_segments
from gunshot_bench.cli import main as cli_main
from gunshot_bench.sim import PRESETS, synthesize_corpus
from gunshot_bench.sim.corpus import MARKER, _write_one
from gunshot_bench.sim.presets import BACKGROUND_KINDS, TINY_KINDS, Preset, model_dir, plan, plan_counts
from gunshot_bench.sources import sim as sim_source
from gunshot_bench.sources.base import ClipRecord, SkippedFile
from gunshot_bench.taxonomy import CATEGORIES, MODELS, get_model, resolve_label


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "tiny"
    summary = synthesize_corpus("tiny", out, seed=0, progress=False, workers=2)
    assert not summary.reused and summary.n_gunshot_segments == 3 * len(MODELS)
    return out


def metadata(root: Path) -> list[dict]:
    with open(root / "metadata.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- presets
def test_paper_preset_counts():
    recs = plan("paper", seed=0)
    counts = plan_counts(recs)
    gun = {m: counts[m] for m in MODELS}
    assert sum(gun.values()) == 3343
    assert (gun["MK18"], gun["M4"], gun["Glock 17"]) == (43, 162, 456)
    assert any(gun[m] < 50 for m in MODELS if get_model(m).category == "shotgun")
    assert any(gun[m] < 50 for m in MODELS if get_model(m).category == "machine_gun")
    assert max(gun.values()) / min(gun.values()) > 10  # naturally imbalanced
    per_model = {m: sum(1 for r in recs if r.model == m) for m in MODELS}
    assert min(per_model.values()) >= 6
    for r in recs:  # the counting rule: 2k s plus a tail that the 2 s cut drops
        assert 0.05 < r.tail_s < 1.9
        for rate in (8000, 22050, 44100, 96000):
            assert n_segments(int(round(r.duration_s * rate)), rate) == r.n_segments
    assert sum(counts[k] for k in BACKGROUND_KINDS) >= 1600  # 34 kinds x 48


def test_plan_depends_only_on_preset_and_seed():
    assert plan("paper", 0) == plan("paper", 0)
    assert [r.n_segments for r in plan("paper", 0)] != [r.n_segments for r in plan("paper", 1)]
    assert plan_counts(plan("paper", 0)) == plan_counts(plan("paper", 1))


def test_small_and_tiny_presets():
    small = plan_counts(plan("small"))
    assert 400 <= sum(small[m] for m in MODELS) <= 600
    assert all(10 <= small[m] <= 20 for m in MODELS)
    assert all(sum(1 for r in plan("small") if r.model == m) >= 6 for m in MODELS)
    tiny = plan("tiny")
    assert all(r.n_segments == 1 for r in tiny)
    assert all(sum(1 for r in tiny if r.model == m) == 3 for m in MODELS)
    # noise in every split; tiny renders a subset of the kinds (the test suite builds it often)
    assert all(sum(1 for r in tiny if r.kind == k) == 3 for k in TINY_KINDS)
    assert {r.kind for r in tiny if r.model is None} == set(TINY_KINDS)
    assert set(PRESETS) == {"tiny", "small", "paper", "diverse"}
    assert all(sum(1 for r in plan("small") if r.kind == k) == 3 for k in BACKGROUND_KINDS)


def test_model_dirs_resolve_to_their_model():
    for m in MODELS:
        name = model_dir(m)
        assert name.replace("_", "").isalnum(), name
        assert resolve_label(name).model == m, name
    assert model_dir("S&W .38 Revolver") == "SW_38_Revolver" and model_dir("Glock 17") == "Glock_17"
    for kind in BACKGROUND_KINDS:
        assert resolve_label(kind).kind == "background" and resolve_label(kind).is_gunshot is False


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(preset="huge"), "unknown preset"),
    (dict(preset="tiny", seed=-1), "seed"),
    (dict(preset="tiny", seed=1.5), "seed"),
    (dict(preset="tiny", workers=0), "workers"),
])
def test_bad_arguments_fail_before_writing(tmp_path, kwargs, match):
    out = tmp_path / "corpus"
    with pytest.raises(ValueError, match=match):
        synthesize_corpus(out_dir=out, progress=False, **kwargs)
    assert not out.exists()


def test_absurd_or_negative_counts_are_refused():
    with pytest.raises(ValueError, match="recordings"):
        Preset("bad", (("Glock 17", -3),), (("Glock 17", 1),), 1, 1)
    with pytest.raises(ValueError, match="sane"):
        Preset("bad", (("Glock 17", 10**7),), (("Glock 17", 10),), 1, 1)
    with pytest.raises(ValueError, match="taxonomy"):
        Preset("bad", (("Glock 99", 3),), (("Glock 99", 1),), 1, 1)


def test_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="other files"):
        synthesize_corpus("tiny", tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_cli_reports_bad_input(tmp_path, capsys):
    (tmp_path / "x.wav").write_bytes(b"")
    assert cli_main(["synth", "--preset", "tiny", "--out", str(tmp_path)]) == 2
    assert "other files" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["synth", "--preset", "enormous", "--out", str(tmp_path / "new")])


# ----------------------------------------------------------------------------- the tiny corpus
def test_layout_and_metadata(tiny):
    rows = metadata(tiny)
    recs = plan("tiny", 0)
    assert [r["recording_id"] for r in rows] == [r.recording_id for r in recs]
    wavs = sorted(p.relative_to(tiny).as_posix() for p in tiny.rglob("*.wav"))
    assert wavs == sorted(r["rel_path"] for r in rows)
    for row in rows:
        parts = row["rel_path"].split("/")
        info = sf.info(tiny / row["rel_path"])
        assert info.samplerate == int(row["sample_rate"]) and info.channels == int(row["channels"])
        assert 8000 <= info.samplerate <= 96000 and info.subtype == row["subtype"]
        assert n_segments(info.frames, info.samplerate) == int(row["n_segments"]) == 1
        if row["model"]:
            assert parts[0] in CATEGORIES and parts[0] == get_model(row["model"]).category
            assert resolve_label(parts[1]).model == row["model"] == row["label"]
            times = [float(t) for t in row["shot_times_s"].split(";")]
            assert len(times) == int(row["n_shots"]) and 0 < min(times) < 2.0  # the segment holds a shot
            for key in ("distance_m", "azimuth_deg", "environment", "rt60_s", "codec", "clipping", "seed"):
                assert row[key] != "", key
        else:
            assert parts[0] == "_background" and parts[1] == row["kind"] == row["label"]
            assert resolve_label(parts[1]).kind == "background"
    assert {r["kind"] for r in rows if not r["model"]} == set(TINY_KINDS)
    marker = json.loads((tiny / MARKER).read_text())
    assert (marker["preset"], marker["seed"]) == ("tiny", 0)


def test_clipping_in_files_only_where_metadata_says(tiny):
    rows = metadata(tiny)
    assert {r["clipping"] for r in rows} >= {"none"}
    for row in rows:
        x, _ = sf.read(tiny / row["rel_path"], dtype="int32", always_2d=True)
        peak = np.abs(x.astype(np.int64)).max()
        assert peak > 0.2 * 2**31, row["rel_path"]  # levelled to 0.5-12 dB below full scale
        full = np.sum(np.abs(x.astype(np.int64)) >= 2**31 - 2**16)  # within one 16-bit step of full scale
        if row["clipping"] == "none":
            assert full == 0, row["rel_path"]
        elif row["clipping"] == "hard":
            assert full >= 1, row["rel_path"]  # a 1.3 dB overdrive of one lone peak can clip a single sample


def test_same_seed_gives_byte_identical_files(tiny, tmp_path):
    rows = metadata(tiny)
    for row in rows[::12]:  # re-render in this process, serially, a sample of the pool's files
        rec = next(r for r in plan("tiny", 0) if r.recording_id == row["recording_id"])
        _write_one((rec, 0, str(tmp_path), "tiny"))
        assert filecmp.cmp(tiny / row["rel_path"], tmp_path / row["rel_path"], shallow=False), row["rel_path"]
    other = tmp_path / "seed1"
    rec = plan("tiny", 1)[0]
    _write_one((rec, 1, str(other), "tiny"))
    assert not filecmp.cmp(tiny / rows[0]["rel_path"], other / rows[0]["rel_path"], shallow=False)


def test_complete_corpus_is_reused_and_other_seed_refused(tiny):
    before = {p: p.stat().st_mtime_ns for p in tiny.rglob("*.wav")}
    again = synthesize_corpus("tiny", tiny, seed=0, progress=False)
    assert again.reused and again.n_gunshot_segments == 96
    assert before == {p: p.stat().st_mtime_ns for p in tiny.rglob("*.wav")}
    with pytest.raises(ValueError, match="seed 0"):
        synthesize_corpus("tiny", tiny, seed=1, progress=False)


def test_sim_loader_accounts_for_every_file(tiny):
    rows = {r["rel_path"]: r for r in metadata(tiny)}
    found = list(sim_source.scan(tiny))
    rels = [f.rel_path for f in found]
    assert sorted(rels) == sorted(p.relative_to(tiny).as_posix() for p in tiny.rglob("*") if p.is_file())
    clips = [f for f in found if isinstance(f, ClipRecord)]
    skipped = {f.rel_path: f.reason for f in found if isinstance(f, SkippedFile)}
    assert len(clips) == len(rows)
    assert skipped["metadata.csv"] == "metadata of the simulated corpus (read, not audio)"
    for clip in clips:
        row = rows[clip.rel_path]
        assert clip.recording_id.endswith(row["recording_id"]) and clip.licence == "CC0-1.0 (simulated by gunshot-bench)"
        assert clip.label.model == (row["model"] or None) and clip.label.is_gunshot == bool(row["model"])
    assert sim_source.__doc__ and "CC0" in sim_source.__doc__


def test_sim_loader_needs_metadata(tmp_path):
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        list(sim_source.scan(tmp_path))


@pytest.mark.slow
def test_tiny_corpus_builds_into_a_dataset_with_every_split(tiny, tmp_path):
    from gunshot_bench.dataset.build import BuildConfig, build_dataset
    from gunshot_bench.dataset.read import load_arrays

    out = tmp_path / "ds"
    build_dataset(BuildConfig(sources=(("sim", str(tiny)),), out_dir=str(out), workers=1), progress=False)
    for split in ("train", "validation", "test"):
        x, df = load_arrays(out, "clean", split)
        assert len(df) > 0 and np.isfinite(x).all()
        assert df["source"].eq("sim").all()
        params = df["sim_params"].map(json.loads)  # the oracle's column: every simulated row has one
        gun = df["is_gunshot"].to_numpy().astype(bool)  # a ClassLabel: 1 = gunshot
        assert all(p["mech_mode_hz"] > 0 and p["blast_duration_ms"] > 0 for p in params[gun])
        assert all(p["mech_mode_hz"] is None and p["action"] == "none" for p in params[~gun])
