"""Turn one clip record into 2 s segments: decode, validate, downmix, resample, cut, encode.

Runs in worker processes, so it takes and returns plain picklable values. Resampling is done
once per recording, before cutting: the cut points are the same instants as cutting at the
native rate (study A), without the edge effects of resampling every 2 s piece separately.
A recording shorter than one segment (but at least `min_duration_s`) becomes one padded
segment (see `audio.pad_to_length`) unless the pad mode is "none".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gunshot_bench import audio
from gunshot_bench.dataset.neardup import fingerprint
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
                   pad_mode: str = "noise") -> FileResult:
    result = FileResult(record)
    try:
        decoded = audio.decode(record.path, record.start_s, record.end_s)
        audio.check_finite_and_audible(decoded.samples)
    except audio.AudioError as exc:
        result.reason = str(exc)
        return result
    except OSError as exc:  # unreadable: permissions, vanished, a device file
        result.reason = f"cannot read the file ({exc.strerror or exc})"
        return result
    result.orig_sample_rate, result.orig_channels = decoded.sample_rate, decoded.channels
    result.duration_s = decoded.duration_s
    count = audio.n_segments(decoded.samples.shape[0], decoded.sample_rate, segment_s)
    if decoded.duration_s < min_duration_s:
        result.reason = f"shorter than {min_duration_s:g} s ({decoded.duration_s:.3f} s): too short to use"
        return result
    if count == 0 and pad_mode == "none":
        result.reason = f"shorter than {segment_s:g} s ({decoded.duration_s:.3f} s): no whole segment"
        return result
    mono = audio.to_mono(decoded.samples)
    resampled = audio.resample(mono, decoded.sample_rate, sample_rate)
    if count == 0:
        resampled = audio.pad_to_length(resampled, int(round(segment_s * sample_rate)), sample_rate, pad_mode)
        count, result.padded = 1, True
    offset_s = record.start_s or 0.0
    for i, seg in enumerate(audio.cut_segments(resampled, count, sample_rate, segment_s)):
        if not np.any(audio.to_pcm16(seg)):
            continue  # a silent stretch inside an audible recording carries no gunshot to learn from
        result.segments.append(Segment(
            index=i, start_s=offset_s + i * segment_s, wav=audio.encode_wav(seg, sample_rate),
            sha256=audio.pcm_sha256(seg), fingerprint=fingerprint(seg, sample_rate)))
    if not result.segments:
        result.reason = "every segment is silent at 16-bit resolution"
    return result
