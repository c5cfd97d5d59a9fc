"""Physics of the variant DSP: SNR under both definitions, looping, gain, loudness."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from gunshot_bench.rng import derive_rng
from gunshot_bench.variants import mixing as mx

SR = 44100
N = 2 * SR


def impulse_with_tail(key: str = "shot", t0_s: float = 0.7, tau_s: float = 0.02) -> np.ndarray:
    """A gunshot-like event: a noise burst with an exponential decay, silent elsewhere."""
    rng = derive_rng(0, "test_mixing", key)
    t = np.arange(N) / SR
    envelope = np.where(t >= t0_s, np.exp(-(t - t0_s) / tau_s), 0.0)
    return 0.5 * envelope * rng.standard_normal(N)


def crowd_like(key: str = "crowd", n: int = N) -> np.ndarray:
    """Stationary noise with a slow amplitude modulation (a stand-in for babble)."""
    rng = derive_rng(0, "test_mixing", key)
    t = np.arange(n) / SR
    return 0.05 * (1.0 + 0.3 * np.sin(2 * np.pi * 3.0 * t)) * rng.standard_normal(n)


def independent_event_window(x: np.ndarray, width: int, margin: int) -> tuple[int, int]:
    """Brute-force reference for the event window (slow but obviously right)."""
    squares = x * x
    starts = range(0, x.size - width + 1, 7)
    best = max(starts, key=lambda i: squares[i : i + width].sum())
    # refine around the coarse maximum
    best = max(range(max(0, best - 7), min(x.size - width, best + 7) + 1),
               key=lambda i: squares[i : i + width].sum())
    return max(0, best - margin), min(x.size, best + width + margin)


def db_ratio(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(np.mean(a**2) / np.mean(b**2))


@pytest.mark.parametrize("definition", ["clip", "event"])
@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 5.0, 10.0, 20.0])
def test_mixture_measures_the_target_snr(definition, snr_db):
    s, v = impulse_with_tail(), crowd_like()
    mix, info = mx.mix_at_snr(s, v, snr_db, definition, SR)
    added = mix - s
    # measured independently of the library's window search
    if definition == "clip":
        measured = db_ratio(s, added)
    else:
        a, b = independent_event_window(s, round(0.05 * SR), round(0.025 * SR))
        assert (a, b) == (info.window_start, info.window_stop)
        measured = db_ratio(s[a:b], added[a:b])
    assert abs(measured - snr_db) < 0.1
    assert abs(mx.measure_snr_db(s, added, definition, SR) - snr_db) < 0.1
    # the gunshot is never scaled: the added part is a scaled copy of the noise
    scale = 10 ** (info.noise_gain_db / 20)
    np.testing.assert_allclose(added, v * scale, rtol=1e-9, atol=1e-12)


def test_event_and_clip_snr_differ_by_10_db_for_an_impulse():
    s, v = impulse_with_tail(), crowd_like()
    mix, _ = mx.mix_at_snr(s, v, 0.0, "clip", SR)
    event = mx.measure_snr_db(s, mix - s, "event", SR)
    assert event - 0.0 >= 10.0
    # and mixing at an event SNR leaves the whole-clip SNR >= 10 dB lower
    mix, _ = mx.mix_at_snr(s, v, 10.0, "event", SR)
    assert mx.measure_snr_db(s, mix - s, "clip", SR) <= 0.0


def test_stationary_signal_gives_equal_definitions():
    s, v = crowd_like("a"), crowd_like("b")
    assert abs(mx.measure_snr_db(s, v, "clip", SR) - mx.measure_snr_db(s, v, "event", SR)) < 1.0


def test_event_window_is_around_the_shot():
    s = impulse_with_tail(t0_s=1.3)
    a, b = mx.event_window(s, SR, 0.05, 0.025)
    assert a <= round(1.3 * SR) < b
    assert b - a == round(0.05 * SR) + 2 * round(0.025 * SR)
    a, b = mx.event_window(s, SR, window_s=0.02, margin_s=0.0)
    assert b - a == round(0.02 * SR)


def test_short_noise_is_looped_without_a_click_and_reported():
    s = impulse_with_tail()
    short = crowd_like("short", n=round(0.5 * SR))
    mix, info = mx.mix_at_snr(s, short, 5.0, "clip", SR, noise_offset=1000)
    assert info.noise_looped
    assert abs(mx.measure_snr_db(s, mix - s, "clip", SR) - 5.0) < 0.1
    # the seam of a smooth noise stays smooth: a low sine looped at a non-integer period
    tone = np.sin(2 * np.pi * 50.0 * np.arange(round(0.3123 * SR)) / SR)
    looped = mx.loop_to_length(tone, N, crossfade=441)
    assert np.max(np.abs(np.diff(looped))) < 3 * np.max(np.abs(np.diff(tone)))
    tiled = np.resize(tone, N)
    assert np.max(np.abs(np.diff(tiled))) > 10 * np.max(np.abs(np.diff(tone)))


def test_long_noise_is_read_from_the_offset():
    s = impulse_with_tail()
    long = crowd_like("long", n=3 * SR)
    mix, info = mx.mix_at_snr(s, long, 0.0, "clip", SR, noise_offset=SR)
    assert not info.noise_looped
    scale = 10 ** (info.noise_gain_db / 20)
    np.testing.assert_allclose(mix - s, long[SR : SR + N] * scale, atol=1e-12)
    with pytest.raises(ValueError, match="exceeds"):
        mx.mix_at_snr(s, long, 0.0, "clip", SR, noise_offset=2 * SR)


def test_silent_noise_and_silent_window_raise_dedicated_errors():
    s = impulse_with_tail()
    with pytest.raises(mx.SilentNoiseError, match="silent"):
        mx.mix_at_snr(s, np.zeros(N), 0.0, "clip", SR)
    # noise that is silent only where the shot is: clip SNR defined, event SNR not
    v = crowd_like()
    v[round(0.6 * SR) : round(0.9 * SR)] = 0.0
    mx.mix_at_snr(s, v, 0.0, "clip", SR)
    with pytest.raises(mx.SilentNoiseError, match="event window"):
        mx.mix_at_snr(s, v, 0.0, "event", SR)
    with pytest.raises(mx.SilentSignalError):
        mx.mix_at_snr(np.zeros(N), v, 0.0, "clip", SR)
    assert issubclass(mx.SilentNoiseError, ValueError)


def test_clipping_is_recorded_not_normalised():
    s = impulse_with_tail() * 1.9  # peaks near full scale already
    mix, info = mx.mix_at_snr(s, crowd_like(), -5.0, "event", SR)
    assert info.clipped and info.peak_dbfs > 0.0
    assert np.max(np.abs(mix)) == pytest.approx(10 ** (info.peak_dbfs / 20))
    quiet, info = mx.mix_at_snr(s * 0.01, crowd_like(), 20.0, "clip", SR)
    assert not info.clipped


@pytest.mark.parametrize("bad", [-31.0, 61.0, float("nan"), float("inf")])
def test_snr_out_of_bounds_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="SNR .* outside the sane range"):
        mx.mix_at_snr(impulse_with_tail(), crowd_like(), bad, "clip", SR)


def test_unknown_definition_is_an_error():
    with pytest.raises(ValueError, match="unknown SNR definition"):
        mx.mix_at_snr(impulse_with_tail(), crowd_like(), 0.0, "segmental", SR)


@pytest.mark.parametrize("gain_db", [-60.0, -30.0, -6.0, 0.0, 6.0, 24.0])
def test_gain_is_exact(gain_db):
    x = crowd_like()
    y = mx.apply_gain(x, gain_db)
    assert db_ratio(y, x) == pytest.approx(gain_db, abs=1e-9)
    assert mx.peak_dbfs(y) - mx.peak_dbfs(x) == pytest.approx(gain_db, abs=1e-9)


def test_gain_does_not_limit_peaks_and_reports_clipping():
    x = impulse_with_tail()
    y = mx.apply_gain(x, 12.0)
    assert mx.is_clipped(y) and np.max(np.abs(y)) > 1.0
    assert not mx.is_clipped(mx.apply_gain(x, -20.0))


@pytest.mark.parametrize("bad", [-61.0, 25.0])
def test_gain_out_of_bounds(bad):
    with pytest.raises(ValueError, match="gain .* outside"):
        mx.apply_gain(crowd_like(), bad)


def test_loudness_matches_pyloudnorm_reference():
    x = crowd_like()
    reference = pyloudnorm.Meter(SR, block_size=0.4).integrated_loudness(x)
    assert mx.loudness_lufs(x, SR) == pytest.approx(reference, abs=1e-9)
    # a 1 kHz sine at -20 dBFS peak reads about -23 LUFS (BS.1770: -3.01 dB for a sine)
    sine = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(N) / SR)
    assert mx.loudness_lufs(sine, SR) == pytest.approx(-23.0, abs=0.3)


@pytest.mark.parametrize("target", [-40.0, -30.0, -23.0, -14.0])
@pytest.mark.parametrize("kind", ["impulse", "noise"])
def test_normalize_loudness_reaches_the_target(target, kind):
    x = impulse_with_tail() * 0.01 if kind == "impulse" else crowd_like()
    y = mx.normalize_loudness(x, SR, target)
    assert abs(mx.loudness_lufs(y, SR) - target) < 0.5
    # a pure gain: the waveform shape is unchanged
    ratio = y[np.abs(x) > 1e-6] / x[np.abs(x) > 1e-6]
    assert np.ptp(ratio) < 1e-9 * np.max(np.abs(ratio))


def test_loudness_of_silence_is_a_dedicated_error():
    assert mx.loudness_lufs(np.zeros(N), SR) == -math.inf
    with pytest.raises(mx.SilentLoudnessError, match="-70 LUFS"):
        mx.normalize_loudness(np.zeros(N), SR, -23.0)


def test_loudness_block_must_fit_the_clip_and_target_in_bounds():
    with pytest.raises(ValueError, match="block_size <= duration"):
        mx.loudness_lufs(crowd_like(n=SR // 4), SR)
    with pytest.raises(ValueError, match="loudness target .* outside"):
        mx.normalize_loudness(crowd_like(), SR, 3.0)
    with pytest.raises(ValueError, match="loudness target .* outside"):
        mx.normalize_loudness(crowd_like(), SR, -80.0)


@pytest.mark.parametrize("kind", ["noise", "impulse", "quiet_impulse", "sine"])
@pytest.mark.parametrize("gain_db", [-40.0, -20.0, 0.0, 12.0])
def test_loudness_profile_equals_pyloudnorm_at_every_gain(kind, gain_db):
    x = {
        "noise": crowd_like(),
        "impulse": impulse_with_tail(),
        "quiet_impulse": impulse_with_tail() * 1e-3,  # tail blocks straddle the -70 LUFS gate
        "sine": 0.1 * np.sin(2 * np.pi * 440 * np.arange(N) / SR),
    }[kind]
    profile = mx.LoudnessProfile.of(x, SR)
    reference = pyloudnorm.Meter(SR, block_size=0.4).integrated_loudness(x * 10 ** (gain_db / 20))
    assert profile.lufs(gain_db) == pytest.approx(reference, abs=1e-6)


def test_loudness_profile_of_odd_length_and_silence():
    x = crowd_like(n=SR + 12345)
    reference = pyloudnorm.Meter(SR, block_size=0.4).integrated_loudness(x)
    assert mx.LoudnessProfile.of(x, SR).lufs() == pytest.approx(reference, abs=1e-6)
    silent = mx.LoudnessProfile.of(np.zeros(N), SR)
    assert silent.lufs() == -math.inf
    with pytest.raises(mx.SilentLoudnessError):
        silent.gain_to(-23.0)
