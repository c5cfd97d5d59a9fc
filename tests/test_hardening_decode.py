"""Issue 16, part 3: hostile headers, bounded-memory decoding, dying and hanging workers."""

import json
import os
import signal
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from gunshot_bench import audio
from gunshot_bench.dataset import process
from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.dataset.workers import Failed, MemoryUse, run_isolated
from gunshot_bench.sources.base import ClipRecord
from gunshot_bench.taxonomy import resolve_label
from tests.conftest import shot_train, write


def wav_with_header(path: Path, sample_rate: int, channels: int, payload_bytes: int) -> Path:
    """A 16-bit PCM WAV whose header states `sample_rate` and `channels`, over noise bytes."""
    block_align = 2 * channels
    payload_bytes -= payload_bytes % block_align
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * block_align, block_align, 16)
    data = np.random.default_rng(0).integers(-3000, 3000, payload_bytes // 2, dtype=np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)
    return path


def record(path: Path, start_s=None, end_s=None) -> ClipRecord:
    return ClipRecord(path=path, rel_path=path.name, source="folder", raw_label="Glock 17",
                      label=resolve_label("Glock 17"), recording_id=path.name, licence="test",
                      start_s=start_s, end_s=end_s)


@pytest.mark.parametrize("rate, channels, reason", [
    (1, 1, "sample rate of 1 Hz, outside 1000-768000 Hz"),
    (999, 1, "sample rate of 999 Hz"),
    (1_000_000, 1, "sample rate of 1000000 Hz"),
    (8_000, 65, "65 channels, outside 1-64"),
])
def test_header_outside_sane_limits_is_refused_before_decoding(tmp_path, rate, channels, reason):
    path = wav_with_header(tmp_path / "hostile.wav", rate, channels, 264_000)
    result = process.process_record(record(path))
    assert not result.segments and reason in result.reason
    with pytest.raises(audio.AudioError, match=reason.split(",")[0]):
        audio.decode(path)  # predict and evaluate go through the same check


def test_header_claiming_days_of_audio_is_refused(tmp_path):
    with pytest.raises(audio.AudioError, match="hours of audio, over the 24 hour limit"):
        audio.check_header(1_000, 1, 1_000 * 25 * 3600)
    audio.check_header(8_000, 1, 8_000 * 10 * 3600)  # a 10-hour recording is fine


def test_blocks_are_bounded_and_block_size_never_changes_values(tmp_path, monkeypatch):
    x = np.stack([shot_train("a", 16_000, 9.3, n_shots=8), shot_train("b", 16_000, 9.3, n_shots=8)], axis=1)
    path = write(tmp_path / "long.wav", x, 16_000)
    stream = audio.open_stream(path)
    sizes = [b.nbytes for b in stream.blocks(block_bytes=40_000)]
    assert max(sizes) <= 40_000 and sum(b // 8 for b in sizes) == stream.frames
    whole = process.process_record(record(path))  # default blocks: the file fits in one
    monkeypatch.setattr(audio, "BLOCK_BYTES", 12_345)
    small = process.process_record(record(path))
    assert [s.sha256 for s in small.segments] == [s.sha256 for s in whole.segments] and len(whole.segments) == 4
    assert [s.wav for s in small.segments] == [s.wav for s in whole.segments]
    # the streamed result equals resampling the whole recording at once, then cutting
    mono = audio.to_mono(audio.decode(path).samples)
    expected = audio.cut_segments(audio.resample(mono, 16_000), 4)
    assert [s.sha256 for s in whole.segments] == [audio.pcm_sha256(seg) for seg in expected]


def test_time_range_is_streamed_from_its_start(tmp_path, monkeypatch):
    path = write(tmp_path / "long.wav", shot_train("r", 44_100, 12.0, n_shots=10))
    monkeypatch.setattr(audio, "BLOCK_BYTES", 50_000)
    ranged = process.process_record(record(path, 4.0, 8.5))
    x = audio.decode(path).samples[:, 0]
    expected = audio.cut_segments(x[4 * 44_100: int(8.5 * 44_100)], 2)
    assert [s.sha256 for s in ranged.segments] == [audio.pcm_sha256(seg) for seg in expected]
    assert [s.start_s for s in ranged.segments] == [4.0, 6.0]


def _double_or_misbehave(item):
    if item == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if item == "hang":
        time.sleep(60)
    if item == "oom":
        raise MemoryError
    return item * 2


def test_dead_hung_and_oom_workers_fail_only_their_item():
    memory = MemoryUse()
    items = [1, "die", 2, "hang", 3, "oom", 4]
    out = dict(run_isolated(_double_or_misbehave, items, workers=2, timeout_s=3, memory=memory))
    assert [out[i] for i in (0, 2, 4, 6)] == [2, 4, 6, 8]
    assert out[1] == Failed("worker died (signal 9, SIGKILL; likely out of memory)")
    assert out[3].reason.startswith("timed out after 3 s")
    assert "out of memory" in out[5].reason
    figures = memory.as_dict()
    assert figures["worker_peak_rss_mb"] > 1 and figures["parent_peak_rss_mb"] > 1
    assert figures["workers_started"] >= 3  # the two replaced workers are fresh processes


def _timed_nap(item):
    start = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of the machine
    time.sleep(0.4)
    return start, time.monotonic()


def _overlaps(spans) -> int:
    spans = sorted(spans)
    return sum(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def test_a_memory_budget_keeps_two_large_items_apart():
    # costs 6 + 6 exceed the budget 10: those two never run together; 6 + 3 fits, and so
    # does an item that alone exceeds the budget (it runs alone rather than never)
    costs = {"a": 6, "b": 6, "c": 3, "huge": 20}
    out = dict(run_isolated(_timed_nap, ["a", "b", "c", "huge"], workers=2, cost=costs.get, budget=10))
    spans = {name: out[i] for i, name in enumerate(["a", "b", "c", "huge"])}
    assert _overlaps([spans["a"], spans["b"]]) == 0
    assert _overlaps([spans["huge"], spans["a"]]) == _overlaps([spans["huge"], spans["b"]]) == 0
    assert _overlaps([spans["huge"], spans["c"]]) == 0
    assert _overlaps([spans["b"], spans["c"]]) == 1  # 6 + 3 within the budget: side by side
    # without a budget the two workers run the first two items side by side
    free = dict(run_isolated(_timed_nap, ["a", "b"], workers=2))
    assert _overlaps(free.values()) == 1


def test_a_bug_in_a_worker_keeps_its_traceback():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        list(run_isolated(lambda x: 1 / x, [1, 0], workers=1))


def test_build_survives_a_killed_and_a_hung_worker(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    for name in ("good0", "good1", "die", "hang"):
        write(root / "glock_17" / f"{name}.wav", shot_train(name, duration_s=2.5))
    real = process.process_record

    def misbehave(rec, *args, **kwargs):
        if rec.path.stem == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if rec.path.stem == "hang":
            time.sleep(60)
        return real(rec, *args, **kwargs)

    monkeypatch.setattr(process, "process_record", misbehave)  # forked workers inherit the patch
    out = tmp_path / "ds"
    summary = build_dataset(BuildConfig(sources=(("folder", str(root)),), out_dir=str(out), workers=2,
                                        file_timeout_s=4), progress=False)
    files = {e["rel_path"]: e for e in json.loads((out / "build_report.json").read_text())["files"]}
    assert files["glock_17/die.wav"]["reason"] == "worker died (signal 9, SIGKILL; likely out of memory)"
    assert files["glock_17/hang.wav"]["reason"].startswith("timed out after 4 s")
    assert files["glock_17/good0.wav"]["status"] == files["glock_17/good1.wav"]["status"] == "included"
    memory = json.loads((out / "build_report.json").read_text())["memory"]
    assert memory["worker_peak_rss_mb"] > 10 and "peak memory" in summary.line()
