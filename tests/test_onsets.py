"""The onset detector: block-invariant levels, bursts as one event, shots 13 dB above the floor."""

import numpy as np
import pytest

from gunshot_bench.onsets import (DEFAULT_THRESHOLD_DB, HOP, THRESHOLD_RANGE_DB, LevelMeter,
                                  choose_threshold_db, clip_strength_db, detect_shots,
                                  frame_levels_db)
from gunshot_bench.rng import derive_rng
from synth_clips import shot

SR = 44_100
NOISE_RMS = 0.003


def decaying_noise(rng, tau_s, n, amplitude=0.5):
    """A broadband shot: white noise with an exponential decay (a blast and its tail)."""
    return amplitude * rng.standard_normal(n) * np.exp(-np.arange(n) / SR / tau_s)


def burst(rpm, kind, seed=0, lead_s=1.0, length_s=4.0, total_s=7.0):
    """Noise with automatic fire at `rpm` from `lead_s` for `length_s`; (signal, shot times)."""
    rng = derive_rng(seed, "burst", rpm, kind)
    x = NOISE_RMS * rng.standard_normal(int(total_s * SR))
    times = np.arange(lead_s, lead_s + length_s, 60.0 / rpm)
    for t in times:
        k = int(round(t * SR))
        n = min(len(x) - k, SR // 2)  # 0.5 s: 17 time constants of the slowest decay
        x[k:k + n] += shot(rng, 0, n, 0.5) if kind == "band" else decaying_noise(rng, float(kind), n)
    return x.astype(np.float32), times


def test_levels_do_not_depend_on_the_block_size():
    x = derive_rng(0, "levels").standard_normal(3 * SR).astype(np.float32)
    whole = frame_levels_db(x)
    rng = derive_rng(1, "cuts")
    cuts = np.sort(rng.integers(1, len(x), 40))
    meter = LevelMeter()
    for part in np.split(x, cuts):
        meter.push(part)
    assert len(whole) == len(x) // HOP - 1
    np.testing.assert_array_equal(meter.levels_db(), whole)


# "band": band-limited noise (400 Hz band) decaying with tau 30 ms; "0.02"/"0.05": broadband
# shots decaying with tau 20 / 50 ms. At 1000 rpm a shot of the slowest decays only ~10 dB
# before the next one.
@pytest.mark.parametrize("kind", ["band", "0.02", "0.05"])
@pytest.mark.parametrize("rpm", [600, 800, 1000])
def test_a_burst_is_one_event_with_every_shot(rpm, kind):
    x, times = burst(rpm, kind)
    events = detect_shots(x)
    assert len(events) == 1
    ev = events[0]
    assert ev.n_shots == len(times)
    # within 25 ms: a narrow band's envelope fluctuates, and may pass the rise a frame or two late
    assert np.abs(np.array(ev.shot_times_s) - times).max() < 0.025
    assert abs(ev.start_s - times[0]) < 0.025 and times[-1] < ev.end_s < times[-1] + 2.0


@pytest.mark.parametrize("rpm", [600, 1000])
def test_a_recording_that_is_almost_all_burst_still_gives_its_event(rpm):
    # 50 ms of noise, then fire until 50 ms before the end: the floor is not the burst's level
    x, times = burst(rpm, "0.05", lead_s=0.05, length_s=5.9, total_s=6.0)
    events = detect_shots(x)
    assert len(events) == 1 and events[0].n_shots == len(times)


def test_shots_13_db_above_the_floor_are_found_with_the_default_threshold():
    rng = derive_rng(2, "snr13")
    noise = NOISE_RMS * rng.standard_normal(60 * SR)
    times = np.sort(rng.uniform(1.0, 59.0, 12))
    times = times[np.diff(times, prepend=-1.0) > 1.0]  # keep shots at least 1 s apart
    x = noise.copy()
    for t in times:
        s = shot(rng, 2, SR // 2, 1.0)  # 2 kHz band, tau 30 ms
        # the shot's level: its loudest 10 ms (any alignment, not the detector's grid)
        peak_rms = np.sqrt(np.convolve(s.astype(np.float64) ** 2, np.ones(441) / 441, "valid").max())
        s = s * (NOISE_RMS * 10 ** (13 / 20) / peak_rms)
        measured = 20 * np.log10(np.sqrt(np.convolve(s ** 2, np.ones(441) / 441, "valid").max()) / noise.std())
        assert measured == pytest.approx(13.0, abs=0.1)
        k = int(round(t * SR))
        x[k:k + len(s)] += s
    x = x.astype(np.float32)
    assert THRESHOLD_RANGE_DB[1] <= DEFAULT_THRESHOLD_DB + 1e-9  # every chosen threshold finds them too
    for threshold in (DEFAULT_THRESHOLD_DB, THRESHOLD_RANGE_DB[1]):
        events = detect_shots(x, threshold)
        assert len(events) == len(times)
        assert np.abs(np.array([e.start_s for e in events]) - times).max() < 0.01
        assert all(e.start_s < e.end_s for e in events)
    assert detect_shots(x, 16.0) == []  # the threshold matters: 16 dB is above these shots


@pytest.mark.parametrize("colour", ["white", "pink", "brown"])
def test_steady_noise_gives_no_event(colour):
    """Noise of power spectrum 1/f^a (a = 0, 1, 2): its low frequencies swing slowly but widely."""
    spectrum = np.fft.rfft(derive_rng(1, "noise", colour).standard_normal(30 * SR))
    f = np.maximum(np.arange(len(spectrum)), 20)  # below 0.7 Hz: flat (no drift)
    x = np.fft.irfft(spectrum / f ** ({"white": 0, "pink": 1, "brown": 2}[colour] / 2))
    x = (0.05 * x / x.std()).astype(np.float32)
    assert detect_shots(x, THRESHOLD_RANGE_DB[0]) == []


def test_clip_strength_and_threshold_choice():
    rng = derive_rng(3, "clips")
    gun = [NOISE_RMS * rng.standard_normal(2 * SR) for _ in range(6)]
    for i, x in enumerate(gun):
        x[SR // 2:] += shot(rng, i % 3, len(x) - SR // 2, 0.003 * 10 ** ((30 + 2 * i) / 20))
    steady = [NOISE_RMS * rng.standard_normal(2 * SR) for _ in range(4)]
    strengths = [clip_strength_db(x.astype(np.float32)) for x in gun + steady]
    assert min(strengths[:6]) > 10.0 and max(strengths[6:]) == -np.inf
    assert choose_threshold_db(strengths, [True] * 6 + [False] * 4) == THRESHOLD_RANGE_DB[1]
    # background clips with rises of 6.8 and 7.1 dB, a faint gunshot clip at 7.6 dB: only a
    # threshold between them separates every clip
    chosen = choose_threshold_db([20.0, 7.6, 25.0, 6.8, 7.1, -np.inf], [True] * 3 + [False] * 3)
    assert chosen == 7.5
    assert choose_threshold_db([20.0], [False]) == DEFAULT_THRESHOLD_DB
