"""Turn one clip record into 2 s segments: decode, validate, downmix, resample, cut, encode.

Files are read in blocks (see `process_record`), so a worker's memory does not grow with the
length of the recording.

Runs in worker processes, so it takes and returns plain picklable values. Resampling is done
once per recording, before cutting: the cut points are the same instants as cutting at the
native rate (study A), without the edge effects of resampling every 2 s piece separately.
A recording shorter than one segment (but at least `min_duration_s`) becomes one padded
segment (see `audio.pad_to_length`) unless the pad mode is "none".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soxr

from gunshot_bench import audio
from gunshot_bench.dataset.neardup import fingerprint
from gunshot_bench.dataset.shards import file_sha256
from gunshot_bench.sources.base import ClipRecord


@dataclass
class Segment:
    index: int
    start_s: float
    wav: bytes
    sha256: str
    fingerprint: np.ndarray


@dataclass
class FileResult:
    """What became of one record: its segments, or the reason it yields none."""

    record: ClipRecord
    segments: list[Segment] = field(default_factory=list)
    orig_sample_rate: int = 0
    orig_channels: int = 0
    duration_s: float = 0.0
    padded: bool = False
    reason: str | None = None


def process_record(record: ClipRecord, sample_rate: int = audio.TARGET_SAMPLE_RATE,
                   segment_s: float = audio.SEGMENT_DURATION_S, min_duration_s: float = audio.MIN_DURATION_S,
                   pad_mode: str = "noise", sink: Callable[[bytes], None] | None = None) -> FileResult:
    """Decode, check, resample and cut one record, reading it block by block.

    Memory is bounded by the block size and one segment, not by the file's length: the audio
    is streamed through soxr's `ResampleStream` (whose output equals a one-shot resample of
    the whole recording) and each finished segment's WAV bytes go to `sink` (default: kept
    in `Segment.wav`). Segment values do not depend on the block size. A recording shorter
    than one segment is held whole (it is short) and padded (`audio.pad_to_length`).
    """
    result = FileResult(record)
    keep = sink is None
    try:
        stream = audio.open_stream(record.path, record.start_s, record.end_s)
        result.orig_sample_rate, result.orig_channels = stream.sample_rate, stream.channels
        result.duration_s = stream.duration_s
        count = audio.n_segments(stream.frames, stream.sample_rate, segment_s)
        length = int(round(segment_s * sample_rate))
        resampler = None if stream.sample_rate == sample_rate else soxr.ResampleStream(
            stream.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
        offset_s = record.start_s or 0.0
        pending = np.zeros(0, np.float32)
        audible, emitted, read = False, 0, 0
        for block in stream.blocks():
            audio.check_finite(block)
            audible = audible or bool(np.any(block))
            read += block.shape[0]
            mono = audio.to_mono(block)
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=read >= stream.frames)
            pending = np.concatenate([pending, mono]) if pending.size else mono
            while emitted < count and pending.shape[0] >= length:
                _add_segment(result, emitted, offset_s, segment_s, pending[:length], sample_rate, sink, keep)
                pending, emitted = pending[length:], emitted + 1
            if emitted == count > 0:
                pending = pending[:0]  # the tail shorter than a segment is dropped; keep reading to check it
        if resampler is not None and read < stream.frames:  # the file ended early: flush the resampler
            pending = np.concatenate([pending, resampler.resample_chunk(np.zeros(0, np.float32), last=True)])
        if not audible:
            raise audio.AudioError("silent: every sample is zero")
    except audio.AudioError as exc:
        return FileResult(record, reason=str(exc))
    except OSError as exc:  # unreadable: permissions, vanished, a device file
        return FileResult(record, reason=f"cannot read the file ({exc.strerror or exc})")
    if result.duration_s < min_duration_s:
        return FileResult(record, reason=f"shorter than {min_duration_s:g} s ({result.duration_s:.3f} s): too short to use")
    if count == 0 and pad_mode == "none":
        return FileResult(record, reason=f"shorter than {segment_s:g} s ({result.duration_s:.3f} s): no whole segment")
    if count == 0:  # a short recording: its whole resampled audio is in `pending`
        _add_segment(result, 0, offset_s, segment_s, audio.pad_to_length(pending, length, sample_rate, pad_mode),
                     sample_rate, sink, keep)
        result.padded = True
    elif emitted < count:  # resampling left the last segment a few samples short: zero-pad it
        _add_segment(result, emitted, offset_s, segment_s, np.pad(pending, (0, length - pending.shape[0])),
                     sample_rate, sink, keep)
    if not result.segments:
        result.reason = "every segment is silent at 16-bit resolution"
    return result


def _add_segment(result: FileResult, index: int, offset_s: float, segment_s: float, seg: np.ndarray,
                 sample_rate: int, sink, keep: bool) -> None:
    if not np.any(audio.to_pcm16(seg)):
        return  # a silent stretch inside an audible recording carries no gunshot to learn from
    wav = audio.encode_wav(seg, sample_rate)
    if sink is not None:
        sink(wav)
    result.segments.append(Segment(
        index=index, start_s=offset_s + index * segment_s, wav=wav if keep else b"",
        sha256=audio.pcm_sha256(seg), fingerprint=fingerprint(seg, sample_rate)))


#: Segments per parquet row group in a file's segment store: ~11 MB of 2 s WAVs.
_STORE_ROWS = 64
_STORE_SCHEMA = pa.schema([("wav", pa.binary())])


def process_to_store(args) -> tuple[FileResult, str]:
    """Worker job of the build: `process_record` with the WAVs streamed to a parquet store file.

    `args` is (record, sample_rate, segment_s, min_duration_s, pad_mode, store_path). Returns the result (segments
    without their bytes) and the file's sha256 ("" when unreadable).
    """
    record, sample_rate, segment_s, min_duration_s, pad_mode, store_path = args
    try:
        digest = file_sha256(record.path)
    except OSError:
        digest = ""
    buffer: list[bytes] = []
    writer: pq.ParquetWriter | None = None

    def flush() -> None:
        nonlocal writer
        if buffer:
            writer = writer or pq.ParquetWriter(store_path, _STORE_SCHEMA)
            writer.write_table(pa.table({"wav": buffer}, schema=_STORE_SCHEMA))
            buffer.clear()

    def sink(wav: bytes) -> None:
        buffer.append(wav)
        if len(buffer) >= _STORE_ROWS:
            flush()

    try:
        result = process_record(record, sample_rate, segment_s, min_duration_s, pad_mode, sink=sink)
        flush()
    finally:
        if writer is not None:
            writer.close()
    return result, digest


def stored_wavs(store_path: Path) -> Iterator[bytes]:
    """The WAV bytes `process_to_store` wrote, in order, one row group in memory at a time."""
    store = pq.ParquetFile(store_path, pre_buffer=False)
    try:
        for i in range(store.num_row_groups):
            yield from store.read_row_group(i).column("wav").to_pylist()
    finally:
        store.close()
