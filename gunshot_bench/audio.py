"""Audio: decoding (the one I/O edge), validation, downmix, resampling, segmentation, WAV bytes.

Everything but `decode`, `open_stream` and `read_wav_header` is a pure function of arrays. Study A's
segmentation: a recording is cut into consecutive, non-overlapping 2.0 s segments and the tail
shorter than 2 s is dropped. Study A also skipped a recording shorter than 2 s; real
single-shot clips are often 0.25-2 s, so by default such a recording is kept as one segment,
padded after its end (`pad_to_length`), and only one shorter than `MIN_DURATION_S` is refused.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from gunshot_bench.rng import derive_rng

TARGET_SAMPLE_RATE = 44_100
SEGMENT_DURATION_S = 2.0
#: Shortest recording used at all (build, predict, evaluate): below it not even one shot's
#: blast and decay fit (a muzzle blast plus its first reflections last ~0.1-0.2 s).
MIN_DURATION_S = 0.2
#: How a recording shorter than one segment is filled up: with its own noise floor, with
#: zeros, or not at all ("none": skipped, as study A did).
PAD_MODES = ("noise", "zeros", "none")


class AudioError(Exception):
    """A file that cannot be used as audio; the message is the reason, for a person."""


@dataclass(frozen=True)
class Decoded:
    """Decoded audio: `samples` is float32 [frames, channels] in [-1, 1] for PCM input."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def read_wav_header(path: Path) -> tuple[int, int, int] | None:
    """(declared data bytes, bytes present after the data chunk header, block align) of a RIFF WAV.

    libsndfile quietly reads what is present of a truncated WAV, so the truncation check
    needs the declared chunk size, which no library exposes. Returns None for non-RIFF files.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = f.read(size + (size & 1))
                if len(fmt) >= 14:
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                continue
            if chunk_id == b"data":
                here = f.tell()
                f.seek(0, io.SEEK_END)
                return size, f.tell() - here, block_align
            f.seek(size + (size & 1), io.SEEK_CUR)


#: Header sanity limits, checked before anything is allocated: a header is only a claim, and a
#: 264 KB file claiming 1 Hz asks the resampler for 44,100 output samples per input sample.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 64
MAX_DURATION_S = 24 * 3600.0
#: Bytes of decoded float32 audio read at a time; bounds a worker's memory whatever the file's length.
BLOCK_BYTES = 4 << 20


def check_header(sample_rate: int, channels: int, frames: int) -> None:
    """Raise AudioError when a header's sample rate, channel count or length is outside sane limits."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"header claims a sample rate of {sample_rate} Hz, outside "
                         f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"header claims {channels} channels, outside 1-{MAX_CHANNELS}")
    if frames / sample_rate > MAX_DURATION_S:
        raise AudioError(f"header claims {frames / sample_rate / 3600:.1f} hours of audio, over the "
                         f"{MAX_DURATION_S / 3600:g} hour limit")


def _check_truncation(path: Path) -> None:
    if path.suffix.lower() in {".wav", ".wave"}:
        header = read_wav_header(path)
        if header is not None:
            declared, present, block_align = header
            # A streamed WAV may declare 0 or 0xFFFFFFFF bytes; only a finite, larger claim is truncation.
            if 0 < declared < 0xFFFFFFF0 and present < declared:
                partial = f", ending mid-frame ({present % block_align} stray bytes)" if block_align and present % block_align else ""
                raise AudioError(
                    f"truncated WAV: header declares {declared} bytes of audio, the file holds {present}{partial}"
                )


_DECODE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)


@dataclass(frozen=True)
class Stream:
    """An audio file (or a time range of it) opened for reading in blocks; see `open_stream`."""

    path: Path
    sample_rate: int
    channels: int
    start: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def blocks(self, block_bytes: int = BLOCK_BYTES):
        """float32 [n, channels] blocks covering the range in order; at most `block_bytes` each."""
        block_frames = max(1, block_bytes // (4 * self.channels))
        try:
            with sf.SoundFile(str(self.path)) as f:
                if self.start:
                    f.seek(self.start)
                left = self.frames
                while left > 0:
                    block = f.read(min(block_frames, left), dtype="float32", always_2d=True)
                    if block.shape[0] == 0:
                        break  # the header over-stated the length: stop at what is there
                    left -= block.shape[0]
                    yield block
        except _DECODE_ERRORS as exc:
            raise AudioError(f"not decodable as audio ({str(exc).strip() or type(exc).__name__})") from exc


def open_stream(path: Path, start_s: float | None = None, end_s: float | None = None) -> Stream:
    """Check a file's header and open it (or the range `start_s`-`end_s`) for block-wise reading.

    Raises:
        AudioError: not decodable audio, a truncated WAV, a header outside the sane limits, or an empty range.
    """
    path = Path(path)
    _check_truncation(path)
    try:
        info = sf.info(str(path))
    except _DECODE_ERRORS as exc:
        raise AudioError(f"not decodable as audio ({str(exc).strip() or type(exc).__name__})") from exc
    check_header(int(info.samplerate), int(info.channels), max(int(info.frames), 0))
    total = max(int(info.frames), 0)
    start = 0 if start_s is None else min(int(round(start_s * info.samplerate)), total)
    stop = total if end_s is None else min(int(round(end_s * info.samplerate)), total)
    if stop - start <= 0:
        raise AudioError("no audio frames" + ("" if start_s is None else f" in {start_s}-{end_s} s"))
    return Stream(path=path, sample_rate=int(info.samplerate), channels=int(info.channels), start=start,
                  frames=stop - start)


def decode(path: Path, start_s: float | None = None, end_s: float | None = None) -> Decoded:
    """Read an audio file (WAV, FLAC, OGG, MP3, AIFF) with soundfile, optionally a time range.

    The whole range is held in memory; the build reads long files with `open_stream` instead.

    Raises:
        AudioError: the file is not decodable audio, is a truncated WAV, has a header outside
            the sane limits (`check_header`), or the range is empty.
    """
    stream = open_stream(path, start_s, end_s)
    blocks = list(stream.blocks())
    samples = np.concatenate(blocks) if len(blocks) != 1 else blocks[0]
    if samples.shape[0] == 0:
        raise AudioError("no audio frames" + ("" if start_s is None else f" (in {start_s}-{end_s} s)"))
    return Decoded(samples=samples, sample_rate=stream.sample_rate)


def check_finite(samples: np.ndarray) -> None:
    """Raise AudioError when samples hold NaN or infinite values."""
    finite = np.isfinite(samples)
    if not finite.all():
        n_bad = int(samples.size - np.count_nonzero(finite))
        raise AudioError(f"contains NaN or infinite sample values ({n_bad} of them)")


def check_finite_and_audible(samples: np.ndarray) -> None:
    """Raise AudioError when samples hold NaN/Inf or are all zero (nothing to learn from)."""
    check_finite(samples)
    if not np.any(samples):
        raise AudioError("silent: every sample is zero")


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a [frames, channels] array to float32 [frames].

    Values are numpy's `samples.mean(axis=1, dtype=np.float32)`, bit for bit (tested). For
    float32 input of up to 7 channels the channels are added in numpy's own order (from 0.0,
    one after another: its pairwise summation only starts at 8) and divided by their count:
    numpy's reduction over a short axis is slow (~17 ms against 0.5 ms per 5 s block of 48 kHz
    stereo, some 12 s of CPU per hour of audio in `predict` and the build).
    """
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    n = samples.shape[1]
    if samples.dtype != np.float32 or n >= 8:  # float64 sums differ when cast early
        return samples.mean(axis=1, dtype=np.float32)
    acc = samples[:, 0] + np.float32(0)  # a new array; -0.0 becomes 0.0 as in numpy's reduction
    for k in range(1, n):
        acc += samples[:, k]
    acc /= np.float32(n)
    return acc


def resample(x: np.ndarray, sample_rate: int, target_rate: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    """Resample a mono signal with soxr (high quality); a no-op at the target rate."""
    if sample_rate == target_rate:
        return x.astype(np.float32, copy=False)
    return soxr.resample(x, sample_rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def n_segments(n_frames: int, sample_rate: int, duration_s: float = SEGMENT_DURATION_S) -> int:
    """How many whole, non-overlapping segments a recording of `n_frames` at its native rate holds.

    >>> n_segments(44_100 * 5, 44_100)  # 5 s -> two 2 s segments, the 1 s tail dropped
    2
    """
    return n_frames // int(round(duration_s * sample_rate))


def cut_segments(x: np.ndarray, count: int, sample_rate: int = TARGET_SAMPLE_RATE,
                 duration_s: float = SEGMENT_DURATION_S) -> np.ndarray:
    """The first `count` consecutive segments of `x` as a [count, samples] array, each exactly
    `duration_s` long (zero-padded when resampling left the last one a few samples short)."""
    length = int(round(duration_s * sample_rate))
    needed = count * length
    if x.shape[0] < needed:
        x = np.pad(x, (0, needed - x.shape[0]))
    return x[:needed].reshape(count, length)


def noise_floor_rms(x: np.ndarray, sample_rate: int, frame_s: float = 0.01,
                    percentile: float = 10.0) -> float:
    """RMS of the clip's quiet stretches: the `percentile` of its 10 ms frame RMS values.

    A low percentile rather than the minimum, so that one digitally silent frame (a fade, a
    cut) does not set the floor to zero while the clip has a steady background elsewhere.
    """
    frame = max(1, int(round(frame_s * sample_rate)))
    n = x.shape[0] // frame
    if n == 0:
        return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    rms = np.sqrt(np.mean(np.square(x[:n * frame].reshape(n, frame), dtype=np.float64), axis=1))
    return float(np.percentile(rms, percentile))


def pad_to_length(x: np.ndarray, n_samples: int, sample_rate: int = TARGET_SAMPLE_RATE,
                  mode: str = "noise") -> np.ndarray:
    """Extend a mono clip to `n_samples`, keeping its start (the onset) where it is.

    `mode` "noise" appends white noise at the clip's own noise floor (`noise_floor_rms`), so the
    padding sounds like the rest of the recording instead of a digital cut to silence; "zeros"
    appends zeros. The noise is drawn from a generator keyed by the clip's own 16-bit samples,
    so the result is a pure function of the clip (the same clip always gets the same padding).
    A clip already `n_samples` long or longer is returned unchanged (trimming is not padding).

    >>> pad_to_length(np.ones(3, np.float32), 5, mode="zeros").tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0]
    """
    if mode not in ("noise", "zeros"):
        raise ValueError(f"pad mode must be 'noise' or 'zeros', got {mode!r}")
    x = np.asarray(x, dtype=np.float32)
    missing = n_samples - x.shape[0]
    if missing <= 0:
        return x
    if mode == "zeros":
        return np.concatenate([x, np.zeros(missing, np.float32)])
    floor = noise_floor_rms(x, sample_rate)
    rng = derive_rng(0, "pad", pcm_sha256(x))
    return np.concatenate([x, (rng.standard_normal(missing) * floor).astype(np.float32)])


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] to int16, clipping out-of-range values (instead of wrapping around)."""
    return np.round(np.clip(x, -1.0, 32767 / 32768) * 32768).astype(np.int16)


def encode_wav(x: np.ndarray, sample_rate: int = TARGET_SAMPLE_RATE) -> bytes:
    """16-bit PCM mono WAV bytes of a float signal (values outside [-1, 1] are clipped)."""
    buf = io.BytesIO()
    sf.write(buf, to_pcm16(x), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float32 samples and rate of WAV (or any soundfile format) bytes."""
    samples, sample_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return to_mono(samples), int(sample_rate)


def pcm_sha256(x: np.ndarray) -> str:
    """Checksum of a segment's 16-bit PCM samples: identical audio gives identical sums."""
    return hashlib.sha256(to_pcm16(x).tobytes()).hexdigest()
