"""Prediction on files: clips, long recordings with placed shots, bad files, the default model."""

import csv
import io
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from gunshot_bench.cli import main
from gunshot_bench.features import SAMPLE_RATE
from gunshot_bench.onsets import DEFAULT_THRESHOLD_DB, THRESHOLD_RANGE_DB, detect_shots
from gunshot_bench.predict import (FORMATS, ROW_FIELDS, default_run_dir, event_windows,
                                   format_results, predict_files, read_mono)
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
    events = detect_shots(long_recording())
    assert len(events) == len(SHOTS_S) + 1
    for ev, t in zip(events, SHOTS_S):
        assert abs(ev.start_s - t) < 0.01 and ev.n_shots == 1 and ev.start_s < ev.end_s
    burst = events[-1]
    assert burst.n_shots == 3 and np.abs(np.array(burst.shot_times_s) - BURST_S).max() < 0.025
    assert BURST_S[-1] < burst.end_s < 12.0


def test_event_windows_hold_the_onset():
    starts = event_windows(4.3, 12.0, hop_s=0.5)
    assert starts == [2.7, 3.2, 3.7, 4.2]
    assert all(s + 0.1 <= 4.3 <= s + 2.0 for s in starts)
    assert event_windows(0.05, 12.0) == [0.0]
    assert event_windows(11.5, 12.0)[-1] == pytest.approx(10.0)


def test_the_run_stores_its_onset_threshold(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    assert THRESHOLD_RANGE_DB[0] <= config["onset_threshold_db"] <= THRESHOLD_RANGE_DB[1]


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
    assert [d.n_shots for d in long.detections] == [1, 1, 1, 3]
    assert all(d.start_s < d.end_s for d in long.detections)
    assert all(d.label == "Pistol - Glock 17" for d in long.detections)
    assert "[3 shots]" in long.format()
    json.dumps([r.to_dict() for r in results])


def test_silent_long_recording_is_an_error(run_dir, tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(10 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    r = predict_files([tmp_path / "silence.wav"], run_dir=run_dir)[0]
    assert not r.ok and "silent" in r.error


def test_streamed_blocks_give_the_whole_file_result(run_dir, tmp_path):
    """A 48 kHz stereo recording streamed in 2.0025 s blocks (edges inside the burst at 10.0-10.2 s
    and in the windows of every event) gives what one block and the in-memory detector give."""
    x = soxr.resample(long_recording(seed=3), SAMPLE_RATE, 48_000)
    sf.write(tmp_path / "rec.wav", np.stack([x, 0.5 * x], 1), 48_000, subtype="FLOAT")
    whole = predict_files([tmp_path / "rec.wav"], run_dir=run_dir, block_s=1e4)[0]
    blocked = predict_files([tmp_path / "rec.wav"], run_dir=run_dir, block_s=2.0025)[0]
    assert whole.ok and [d.n_shots for d in whole.detections] == [1, 1, 1, 3]
    assert blocked.detections == whole.detections  # every field, probabilities included
    in_memory = detect_shots(read_mono(tmp_path / "rec.wav"), whole.threshold_db)
    assert [(e.start_s, e.end_s, list(e.shot_times_s)) for e in in_memory] == \
        [(d.start_s, d.end_s, d.shot_times_s) for d in whole.detections]


def test_threshold_option_and_older_runs(run_dir, files, tmp_path):
    old = tmp_path / "old_run"
    shutil.copytree(run_dir, old)
    config = json.loads((old / "config.json").read_text())
    del config["onset_threshold_db"]  # a run trained before the threshold was stored
    (old / "config.json").write_text(json.dumps(config))
    assert predict_files([files / "long.wav"], run_dir=old)[0].threshold_db == DEFAULT_THRESHOLD_DB
    stored = predict_files([files / "long.wav"], run_dir=run_dir)[0]
    assert stored.threshold_db == json.loads((run_dir / "config.json").read_text())["onset_threshold_db"]
    # the placed shots stand about 40 dB above the floor: a 60 dB threshold finds none
    strict = predict_files([files / "long.wav"], run_dir=run_dir, threshold_db=60.0)[0]
    assert strict.ok and strict.detections == [] and strict.threshold_db == 60.0
    with pytest.raises(ValueError, match="top_k"):
        predict_files([files / "long.wav"], run_dir=run_dir, top_k=0)


def test_output_formats_parse(run_dir, files):
    results = predict_files([files / "long.wav", files / "clip.wav", files / "zeros.wav"], run_dir=run_dir)
    rows = list(csv.DictReader(io.StringIO(format_results(results, "csv"))))
    assert tuple(rows[0]) == ROW_FIELDS and len(rows) == 4 + 1 + 1  # 4 events, a clip, an error
    assert [float(r["start_s"]) < float(r["end_s"]) for r in rows[:5]] == [True] * 5
    assert [len(r["shot_times_s"].split(";")) for r in rows[:4]] == [1, 1, 1, 3]
    assert rows[5]["ok"] == "False" and "silent" in rows[5]["error"]
    lines = [json.loads(line) for line in format_results(results, "jsonl").splitlines()]
    assert [{k: "" if v is None else str(v) for k, v in row.items() if k not in ("alternatives", "shot_times_s")}
            for row in lines] == [{k: v for k, v in row.items() if k not in ("alternatives", "shot_times_s")}
                                  for row in rows]
    assert lines[3]["n_shots"] == 3 and len(lines[3]["shot_times_s"]) == 3
    assert json.loads(format_results(results, "json"))[0]["detections"][3]["n_shots"] == 3
    assert format_results(results, "text").splitlines()[0].startswith(str(files / "long.wav"))
    assert set(FORMATS) == {"text", "json", "jsonl", "csv"}


def test_cli_predict_formats_and_bad_options(run_dir, files, capsys):
    assert main(["predict", str(files / "long.wav"), "--model", str(run_dir), "--format", "csv"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 4
    assert main(["predict", str(files / "long.wav"), "--model", str(run_dir), "--format", "jsonl",
                 "--threshold-db", "60"]) == 0
    assert json.loads(capsys.readouterr().out)["start_s"] is None  # no event: one row for the file
    for bad in (["--top", "0"], ["--top", "-2"], ["--threshold-db", "-3"]):
        assert main(["predict", str(files / "clip.wav"), "--model", str(run_dir), *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and bad[0] in err


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
