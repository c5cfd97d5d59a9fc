import numpy as np
import pytest
import soundfile as sf

from gunshot_bench import audio
from tests.conftest import shot_train, write


@pytest.mark.parametrize("duration_s, expected", [(1.999, 0), (2.0, 1), (3.99, 1), (4.0, 2), (5.0, 2), (601.3, 300)])
def test_n_segments_drops_tail_and_short_recordings(duration_s, expected):
    for rate in (8_000, 44_100, 192_000):
        assert audio.n_segments(int(round(duration_s * rate)), rate) == expected


def test_cut_segments_are_consecutive_and_exactly_two_seconds():
    x = np.arange(44_100 * 5, dtype=np.float32)
    segs = audio.cut_segments(x, 2)
    assert segs.shape == (2, 88_200)
    assert segs[1, 0] == 88_200 and segs[0, -1] == 88_199  # no overlap, no gap
    short = audio.cut_segments(x[: 88_200 * 2 - 3], 2)  # resampling left the last segment 3 samples short
    assert short.shape == (2, 88_200) and np.all(short[1, -3:] == 0)


@pytest.mark.parametrize("rate", [8_000, 22_050, 48_000, 96_000, 192_000])
def test_resample_keeps_frequency_and_level(rate):
    t = np.arange(rate * 2) / rate
    x = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    y = audio.resample(x, rate)
    assert abs(len(y) - 88_200) <= 1
    spectrum = np.abs(np.fft.rfft(y[4410:-4410] * np.hanning(len(y) - 8820)))
    peak_hz = np.argmax(spectrum) * 44_100 / (len(y) - 8820)
    assert abs(peak_hz - 1000.0) < 3.0
    rms_db = 20 * np.log10(np.sqrt(np.mean(y[4410:-4410] ** 2)) / np.sqrt(np.mean(x ** 2)))
    assert abs(rms_db) < 0.1


def test_mono_average_and_wav_round_trip():
    stereo = np.stack([np.full(100, 0.5, np.float32), np.full(100, -0.25, np.float32)], axis=1)
    np.testing.assert_allclose(audio.to_mono(stereo), 0.125)
    x = shot_train("rt", duration_s=2.0)
    y, rate = audio.decode_wav(audio.encode_wav(x))
    assert rate == 44_100
    assert np.max(np.abs(y - x)) <= 1 / 32768 + 1e-7


def test_pcm16_clips_instead_of_wrapping():
    assert audio.to_pcm16(np.array([2.0, -2.0, 0.0], np.float32)).tolist() == [32767, -32768, 0]
    assert audio.pcm_sha256(np.zeros(10)) == audio.pcm_sha256(np.zeros(10))


def test_decode_reads_a_time_range(tmp_path):
    x = np.linspace(-0.5, 0.5, 48_000 * 3, dtype=np.float32)
    path = write(tmp_path / "a.flac", x, 48_000)
    d = audio.decode(path, start_s=1.0, end_s=2.5)
    assert d.sample_rate == 48_000 and d.samples.shape == (72_000, 1)
    assert abs(d.samples[0, 0] - x[48_000]) < 1e-4


def test_truncated_wav_is_reported(tmp_path):
    path = write(tmp_path / "t.wav", shot_train("t", duration_s=3.0), subtype="PCM_24")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000 - 1])  # cut mid-frame (3 bytes per frame)
    with pytest.raises(audio.AudioError, match="truncated WAV.*mid-frame"):
        audio.decode(path)


def test_text_file_named_wav_is_not_decodable(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(audio.AudioError, match="not decodable"):
        audio.decode(path)


def test_nan_inf_and_silence_are_rejected():
    with pytest.raises(audio.AudioError, match="NaN or infinite"):
        audio.check_finite_and_audible(np.array([[0.1], [np.nan], [np.inf]], np.float32))
    with pytest.raises(audio.AudioError, match="silent"):
        audio.check_finite_and_audible(np.zeros((100, 2), np.float32))
    audio.check_finite_and_audible(np.array([[0.0], [1e-4]], np.float32))


def test_float_wav_with_nan_decodes_then_fails_validation(tmp_path):
    x = shot_train("nan", duration_s=2.5)
    x[1000] = np.nan
    path = write(tmp_path / "nan.wav", x, subtype="FLOAT")
    with pytest.raises(audio.AudioError, match="NaN"):
        audio.check_finite_and_audible(audio.decode(path).samples)


@pytest.mark.parametrize("channels", range(1, 10))
def test_to_mono_is_numpys_mean_bit_for_bit(channels):
    rng = np.random.default_rng(channels)
    block = (rng.standard_normal((48_001, channels)) * rng.uniform(0, 2, channels)).astype(np.float32)
    block[::7] = -0.0  # numpy's reduction turns -0.0 into 0.0: so must the fast path
    expected = block.mean(axis=1, dtype=np.float32)
    assert np.array_equal(audio.to_mono(block).view(np.int32), expected.view(np.int32))
    wide = block.astype(np.float64)  # other dtypes keep numpy's reduction
    assert np.array_equal(audio.to_mono(wide), wide.mean(axis=1, dtype=np.float32))
