"""Prediction on files: clips, long recordings with placed shots, bad files, the default model."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from gunshot_bench.cli import main
from gunshot_bench.features import SAMPLE_RATE
from gunshot_bench.predict import default_run_dir, detect_shots, event_windows, predict_files
from gunshot_bench.rng import derive_rng
from gunshot_bench.train import train_run
from synth_clips import fake_split, make_clips, shot

torch.set_num_threads(1)
ONE_PER_CATEGORY = [0, 3, 16, 24, 28]  # band i of synth_clips <-> model ONE_PER_CATEGORY[i]
SHOTS_S = [1.0, 4.3, 8.0]
BURST_S = [10.0, 10.1, 10.2]


def long_recording(duration_s=12.0, seed=0):
    rng = derive_rng(seed, "long")
    x = 0.003 * rng.standard_normal(int(duration_s * SAMPLE_RATE))
    for t in SHOTS_S + BURST_S:
        start = int(t * SAMPLE_RATE)
        x[start:start + SAMPLE_RATE] += shot(rng, 1, SAMPLE_RATE, amplitude=0.6)
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    data = root / "data"
    data.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setattr("gunshot_bench.dataset.read.load_arrays",
               lambda d, config="clean", split="train": fake_split(ONE_PER_CATEGORY, 5, 0, split))
    try:
        train_run(data, "lda", "model", 0, root / "run", progress=False)
    finally:
        mp.undo()
    return root / "run"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    clip = make_clips([1], seed=9)[0]  # Glock 17's sound
    sf.write(d / "clip.wav", clip, SAMPLE_RATE)
    stereo48 = soxr.resample(clip, SAMPLE_RATE, 48_000)
    sf.write(d / "clip48k_stereo.flac", np.stack([stereo48, stereo48], 1), 48_000)
    sf.write(d / "long.wav", long_recording(), SAMPLE_RATE)
    (d / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (d / "empty.wav").write_bytes(b"")
    sf.write(d / "zeros.wav", np.zeros(SAMPLE_RATE * 2, np.float32), SAMPLE_RATE)
    sf.write(d / "quiet.wav", 1e-6 * np.ones(SAMPLE_RATE * 2, np.float32), SAMPLE_RATE, subtype="FLOAT")
    sf.write(d / "short.wav", clip[:int(0.1 * SAMPLE_RATE)], SAMPLE_RATE)  # below the 0.2 s minimum
    return d


def test_detector_finds_the_placed_shots_and_merges_the_burst():
    events = detect_shots(long_recording(), SAMPLE_RATE)
    assert len(events) == len(SHOTS_S) + 1
    for (start, end, n), t in zip(events, SHOTS_S):
        assert abs(start - t) < 0.03 and n == 1
    start, end, n = events[-1]
    assert abs(start - BURST_S[0]) < 0.03 and abs(end - BURST_S[-1]) < 0.03 and n == 3


def test_detector_blocks_give_the_same_events():
    x = long_recording()
    whole = detect_shots(x, SAMPLE_RATE, block_s=60.0)
    blocked = detect_shots(x, SAMPLE_RATE, block_s=4.0)  # block edges at 4 and 8 s
    assert [round(a, 2) for a, _, _ in blocked] == [round(a, 2) for a, _, _ in whole]
    assert [n for _, _, n in blocked] == [n for _, _, n in whole]


def test_detector_ignores_steady_noise():
    x = 0.05 * derive_rng(1, "noise").standard_normal(5 * SAMPLE_RATE).astype(np.float32)
    assert detect_shots(x, SAMPLE_RATE) == []


def test_event_windows_hold_the_onset():
    starts = event_windows(4.3, 12.0, hop_s=0.5)
    assert starts == [2.7, 3.2, 3.7, 4.2]
    assert all(s + 0.1 <= 4.3 <= s + 2.0 for s in starts)
    assert event_windows(0.05, 12.0) == [0.0]
    assert event_windows(11.5, 12.0)[-1] == pytest.approx(10.0)


def test_clips_recordings_and_bad_files(run_dir, files):
    names = ["clip.wav", "corrupt.wav", "clip48k_stereo.flac", "empty.wav", "zeros.wav",
             "quiet.wav", "short.wav", "missing.wav", "long.wav"]
    results = predict_files([files / n for n in names], run_dir=run_dir)
    by = {r.path.rsplit("/", 1)[-1]: r for r in results}
    assert [r.path.rsplit("/", 1)[-1] for r in results] == names  # every file, in order
    for good in ("clip.wav", "clip48k_stereo.flac"):
        r = by[good]
        assert r.ok and r.kind == "clip" and len(r.detections) == 1
        d = r.detections[0]
        assert d.label == "Pistol - Glock 17" and 0.5 < d.probability <= 1.0
        assert len(d.alternatives) == 2 and all(p <= d.probability for _, p in d.alternatives)
        assert r.format().startswith(f"{r.path}: Pistol - Glock 17 (")
    assert not by["corrupt.wav"].ok and "not decodable" in by["corrupt.wav"].error
    assert not by["empty.wav"].ok and by["empty.wav"].error
    assert not by["zeros.wav"].ok and "silent" in by["zeros.wav"].error
    assert not by["quiet.wav"].ok and "silent" in by["quiet.wav"].error
    assert not by["short.wav"].ok and "too short" in by["short.wav"].error
    assert not by["missing.wav"].ok and "missing.wav" in by["missing.wav"].format()
    long = by["long.wav"]
    assert long.ok and long.kind == "recording" and long.duration_s == pytest.approx(12.0)
    assert [round(d.start_s, 1) for d in long.detections] == [1.0, 4.3, 8.0, 10.0]
    assert [d.n_onsets for d in long.detections] == [1, 1, 1, 3]
    assert all(d.label == "Pistol - Glock 17" for d in long.detections)
    assert "[3 shots]" in long.format()
    json.dumps([r.to_dict() for r in results])


def test_cli_predict_json_and_default_model(run_dir, files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GUNSHOT_BENCH_HOME", str(tmp_path / "home"))
    shutil.copytree(run_dir, default_run_dir())  # stands in for the model trained on first use
    code = main(["predict", str(files / "clip.wav"), str(files / "zeros.wav"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # one file failed, the other was still processed
    assert out[0]["ok"] and out[0]["simulated_training"] and not out[1]["ok"]
    assert main(["predict", str(files / "clip.wav")]) == 0
    assert "SIMULATED" in capsys.readouterr().out
    assert main(["predict", str(files / "clip.wav"), "--model", str(run_dir)]) == 0
    assert "SIMULATED" not in capsys.readouterr().out
