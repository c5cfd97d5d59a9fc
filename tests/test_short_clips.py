"""Short clips (issue 13 part 1): padded to one segment, refused below the minimum duration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gunshot_bench import audio
from gunshot_bench.cli import main as cli_main
from gunshot_bench.dataset.read import load_arrays
from gunshot_bench.dataset.shards import shard_paths
from gunshot_bench.rng import derive_rng
from tests.conftest import shot_train, write

SR = audio.TARGET_SAMPLE_RATE


def _single_shot(seed, duration_s: float, floor: float = 1e-2) -> np.ndarray:
    """One impulse near the start on a steady white-noise floor of RMS `floor`."""
    rng = derive_rng(0, "single_shot", seed)
    n = int(round(duration_s * SR))
    x = (rng.standard_normal(n) * floor).astype(np.float32)
    tail = min(n - 441, int(0.08 * SR))
    x[441:441 + tail] += (rng.standard_normal(tail) * np.exp(-np.arange(tail) / (0.01 * SR)) * 0.6).astype(np.float32)
    return x


def _rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def test_noise_padding_keeps_the_onset_and_matches_the_clips_own_floor():
    clip = _single_shot("a", 0.6, floor=1e-2)
    padded = audio.pad_to_length(clip, 2 * SR, SR, "noise")
    assert padded.shape == (2 * SR,)
    np.testing.assert_array_equal(padded[:clip.size], clip)  # the clip, onset included, is untouched
    # the padding's level is the clip's own floor (white noise at 1e-2 RMS: -40 dBFS) within 1 dB
    assert abs(_rms_db(padded[clip.size:]) - 20 * np.log10(1e-2)) < 1.0
    # a pure function of the clip: the same clip always gets the same padding, another clip other noise
    np.testing.assert_array_equal(padded, audio.pad_to_length(clip.copy(), 2 * SR, SR, "noise"))
    other = audio.pad_to_length(_single_shot("b", 0.6, floor=1e-2), 2 * SR, SR, "noise")
    assert not np.array_equal(other[clip.size:], padded[clip.size:])


def test_zero_padding_and_long_clips():
    clip = _single_shot("z", 0.3)
    padded = audio.pad_to_length(clip, SR, SR, "zeros")
    assert padded.shape == (SR,) and not np.any(padded[clip.size:])
    long = _single_shot("l", 2.5)
    np.testing.assert_array_equal(audio.pad_to_length(long, 2 * SR, SR), long)  # never trims
    with pytest.raises(ValueError, match="pad mode"):
        audio.pad_to_length(clip, SR, SR, "mirror")


def test_floor_of_a_digitally_silent_tail_is_zero():
    clip = np.zeros(SR // 2, np.float32)
    clip[100:2000] = 0.5
    assert audio.noise_floor_rms(clip, SR) == 0.0
    assert not np.any(audio.pad_to_length(clip, SR, SR)[clip.size:])


@pytest.fixture
def short_tree(tmp_path):
    root = tmp_path / "shorts"
    write(root / "glock_17" / "single_0.9s.wav", _single_shot("g", 0.9))
    write(root / "glock_17" / "single_0.25s_22k.wav", _single_shot("g22", 0.25)[::2].copy(), 22_050)
    write(root / "glock_17" / "click_0.1s.wav", _single_shot("c", 0.1))
    write(root / "glock_17" / "long_4.5s.wav", shot_train("long", duration_s=4.5))
    return root


def _build(root, out, *extra):
    return cli_main(["build", "--source", f"folder={root}", "--out", str(out), "--variants", "none",
                     "--no-progress", "--workers", "1", *extra])


def _rows(out):
    import pyarrow.parquet as pq

    return [r for s in ("train", "validation", "test") for p in shard_paths(out, "clean", s)
            for r in pq.read_table(p).to_pylist()]


def test_build_pads_short_clips_and_refuses_below_the_minimum(short_tree, tmp_path, capsys):
    out = tmp_path / "ds"
    assert _build(short_tree, out) == 0
    line = capsys.readouterr().out
    report = json.loads((out / "build_report.json").read_text())
    files = {e["rel_path"]: e for e in report["files"]}
    assert files["glock_17/click_0.1s.wav"]["status"] == "skipped"
    assert files["glock_17/click_0.1s.wav"]["reason"].startswith("shorter than 0.2 s (0.100 s)")
    assert "1 shorter than 0.2 s" in line  # the threshold is printed, not masked
    rows = {r["rel_path"]: r for r in _rows(out)}
    assert set(rows) == {"glock_17/single_0.9s.wav", "glock_17/single_0.25s_22k.wav", "glock_17/long_4.5s.wav"}
    short = rows["glock_17/single_0.9s.wav"]
    assert short["padded"] is True and abs(short["orig_duration_s"] - 0.9) < 1e-6
    assert rows["glock_17/single_0.25s_22k.wav"]["padded"] and abs(rows["glock_17/single_0.25s_22k.wav"]["orig_duration_s"] - 0.25) < 1e-4
    assert rows["glock_17/long_4.5s.wav"]["padded"] is False and abs(rows["glock_17/long_4.5s.wav"]["orig_duration_s"] - 4.5) < 1e-6
    assert report["summary"]["files_padded"] == 2
    assert "2 recording(s) shorter than one segment were padded" in (out / "README.md").read_text()
    x, sr = audio.decode_wav(short["audio"]["bytes"])
    assert sr == SR and x.size == 2 * SR
    # the padding after 0.9 s sits at the clip's -40 dBFS floor (16-bit rounding included)
    assert abs(_rms_db(x[int(0.95 * SR):]) + 40.0) < 1.0


def test_pad_zeros_min_duration_and_no_padding_options(short_tree, tmp_path):
    out = tmp_path / "zeros"
    assert _build(short_tree, out, "--pad", "zeros", "--min-duration", "0.5") == 0
    rows = {r["rel_path"]: r for r in _rows(out)}
    assert set(rows) == {"glock_17/single_0.9s.wav", "glock_17/long_4.5s.wav"}
    x, _ = audio.decode_wav(rows["glock_17/single_0.9s.wav"]["audio"]["bytes"])
    assert not np.any(x[int(0.9 * SR) + 1:])
    files = {e["rel_path"]: e for e in json.loads((out / "build_report.json").read_text())["files"]}
    assert files["glock_17/single_0.25s_22k.wav"]["reason"].startswith("shorter than 0.5 s")
    out2 = tmp_path / "none"
    assert _build(short_tree, out2, "--pad", "none") == 0
    assert {r["rel_path"] for r in _rows(out2)} == {"glock_17/long_4.5s.wav"}
    files = {e["rel_path"]: e for e in json.loads((out2 / "build_report.json").read_text())["files"]}
    assert files["glock_17/single_0.9s.wav"]["reason"].startswith("shorter than 2 s")
    assert _build(short_tree, tmp_path / "bad", "--min-duration", "0") == 2


def test_evaluate_reads_short_clips_padded(short_tree):
    from gunshot_bench.evaluate import collect_source
    from gunshot_bench.tasks import get_task

    test_set, skipped = collect_source("folder", short_tree, get_task("model"), progress=False)
    assert len(test_set.y) == 2 + 2  # two padded singles + two segments of 4.5 s
    assert any("click_0.1s.wav: shorter than 0.2 s" in s for s in skipped)


def test_predict_accepts_a_single_shot_from_the_minimum_duration(tmp_path, monkeypatch):
    from gunshot_bench.predict import predict_files
    from gunshot_bench.train import train_run
    from tests.synth_clips import fake_split

    monkeypatch.setattr("gunshot_bench.dataset.read.load_arrays",
                        lambda d, config="clean", split="train": fake_split([0, 3, 16, 24, 28], 5, 0, split))
    (tmp_path / "data").mkdir()
    train_run(tmp_path / "data", "lda", "model", 0, tmp_path / "run", progress=False)
    write(tmp_path / "single_0.3s.wav", _single_shot("p", 0.3))
    write(tmp_path / "click_0.1s.wav", _single_shot("q", 0.1))
    ok, short = predict_files([tmp_path / "single_0.3s.wav", tmp_path / "click_0.1s.wav"], run_dir=tmp_path / "run")
    assert ok.ok and ok.kind == "clip" and abs(ok.duration_s - 0.3) < 1e-6 and len(ok.detections) == 1
    assert not short.ok and "too short" in short.error and "0.2 s" in short.error
