"""Physics of the simulator, checked on generated audio and on the physics functions directly."""

from __future__ import annotations

import numpy as np
import pytest

from gunshot_bench.rng import derive_rng
from gunshot_bench.sim import chain, firearm, negatives, propagation, scenes
from gunshot_bench.sim.presets import RecordingPlan
from gunshot_bench.sim.recording import absorb, render_background, render_gunshot
from gunshot_bench.taxonomy import get_model

CLEAN_CHAIN = chain.ChainParams(mic="measurement", highpass_hz=20.0, lowpass_hz=20000.0, agc=False,
                                agc_threshold_db=-20.0, agc_attack_s=0.003, agc_release_s=0.5, codec="none",
                                headroom_db=1.0, clipping="none", overdrive_db=0.0)


def gun(name):
    return firearm.gun_acoustics(get_model(name))


def clip(model, **overrides):
    """A 1-segment recording of `model` with the given drawn parameters fixed."""
    rec = RecordingPlan(f"test-{model}", "gunshot", model, get_model(model).category, 1, 0.5)
    base = dict(environment="open_field", ambient="none", sample_rate=48000, channels=1, chain=CLEAN_CHAIN,
                temperature_c=20.0, humidity_pct=50.0)
    base.update(overrides)
    return render_gunshot(rec, seed=3, overrides=base)


def precursor_ratio(audio, row, window_ms=(0.5, 80.0)):
    """Peak |x| in the window before the first shot's blast arrival, over the blast peak.

    The window runs from 80 ms to 0.5 ms before the blast (the blast front is no precursor); before the first shot there is only self-noise, so a large ratio means a precursor.
    """
    fs = row["sample_rate"]
    t0 = float(row["shot_times_s"].split(";")[0])
    x = audio[:, 0]
    a, b = int((t0 - window_ms[1] / 1000) * fs), int((t0 - window_ms[0] / 1000) * fs)
    blast = np.abs(x[b: b + int(0.005 * fs)]).max()
    return np.abs(x[max(a, 0):b]).max() / blast


@pytest.mark.parametrize("model", ["AK-47", "M4", "Ruger AR-556"])
def test_supersonic_clip_has_n_wave_ahead_of_blast(model):
    audio, row = clip(model, distance_m=60.0, azimuth_deg=20.0)
    assert row["nwave_present"] and row["nwave_lead_ms"] > 5
    fs = row["sample_rate"]
    t0 = float(row["shot_times_s"].split(";")[0])
    lead = row["nwave_lead_ms"] / 1000
    x = audio[:, 0]
    # The largest sample from 10 ms before the predicted N-wave to 0.5 ms before the blast sits
    # at the N-wave's arrival.
    a, b = int((t0 - lead - 0.01) * fs), int((t0 - 0.0005) * fs)
    k = a + int(np.argmax(np.abs(x[a:b])))
    assert abs(k / fs - (t0 - lead)) < 0.001
    assert precursor_ratio(audio, row) > 0.1
    # Whitham's duration for a rifle bullet at tens of metres: a few hundred microseconds.
    assert 100 < row["nwave_duration_us"] < 600


@pytest.mark.parametrize("model", ["Glock 21", "S&W .38 Revolver", "UMP45"])
def test_subsonic_clip_has_no_n_wave(model):
    audio, row = clip(model, distance_m=60.0, azimuth_deg=20.0)
    assert not row["nwave_present"] and "subsonic" in row["nwave_absent_reason"]
    assert precursor_ratio(audio, row) < 0.01


def test_shock_only_inside_mach_cone_and_supersonic_range():
    ak = gun("AK-47")
    mach = ak.muzzle_velocity_mps / 343.0
    cone_edge = 90 - np.degrees(np.arcsin(1 / mach))
    assert firearm.shock_arrival(ak, 50, cone_edge - 5, 343.0).present
    assert not firearm.shock_arrival(ak, 50, cone_edge + 10, 343.0).present
    # A 9 mm bullet (375 m/s) decelerates below Mach 1 within ~60 m: no N-wave far down range.
    g17 = gun("Glock 17")
    assert firearm.shock_arrival(g17, 15, 5, 343.0).present
    assert not firearm.shock_arrival(g17, 250, 5, 343.0).present


def test_whitham_n_wave_scaling():
    ak = gun("AK-47")
    near, far = firearm.shock_arrival(ak, 20, 30, 343.0), firearm.shock_arrival(ak, 80, 30, 343.0)
    ratio = far.miss_distance_m / near.miss_distance_m
    assert far.peak_pa / near.peak_pa == pytest.approx(ratio ** -0.75, rel=0.05)
    assert far.duration_s > near.duration_s


@pytest.mark.parametrize("model", ["M249", "MG-42", "AK-47", "MP7"])
def test_burst_intervals_match_cyclic_rate(model):
    g = gun(model)
    rng = derive_rng(0, "burst", model)
    for _ in range(5):
        sched = firearm.firing_schedule(g, 30.0, rng)
        if sched.mode != "burst":
            continue
        assert abs(sched.cyclic_rate_rpm / g.cyclic_rate_rpm - 1) <= 0.04
        period = 60.0 / sched.cyclic_rate_rpm
        gaps = np.diff(sched.times_s)
        within = gaps[gaps < 1.5 * period]
        assert within.size > 20
        assert np.mean(within) == pytest.approx(period, rel=0.01)
        assert np.std(within) / period == pytest.approx(sched.jitter, rel=0.35)
        assert np.all(np.abs(within / period - 1) <= 3 * sched.jitter + 1e-9)
        assert np.max(gaps) < 2.0  # every 2 s segment holds a shot


def test_burst_intervals_in_generated_audio():
    audio, row = clip("M249", distance_m=5.0, azimuth_deg=120.0)
    assert row["firing_mode"] == "burst"
    fs = row["sample_rate"]
    times = np.array([float(t) for t in row["shot_times_s"].split(";")])
    # Blast onsets found in the audio: local envelope maxima above half the recording's peak.
    env = np.abs(audio[:, 0])
    from scipy.signal import find_peaks
    peaks, _ = find_peaks(env, height=0.3 * env.max(), distance=int(0.03 * fs))
    found = peaks / fs
    assert found.size == times.size
    assert np.max(np.abs(found - times)) < 0.002
    period = 60.0 / float(row["cyclic_rate_rpm"])
    gaps = np.diff(found)
    within = gaps[gaps < 1.5 * period]
    assert np.median(within) == pytest.approx(period, rel=0.03)


def test_semi_auto_strings_at_human_rates():
    sched = firearm.firing_schedule(gun("Glock 17"), 60.0, derive_rng(0, "semi"))
    gaps = np.diff(sched.times_s)
    assert sched.mode == "string" and sched.cyclic_rate_rpm is None
    assert gaps.min() >= 0.2 and gaps.max() < 2.0


def test_distance_lowers_level_and_high_frequencies():
    ak = gun("AK-47")
    fs = firearm.SOURCE_RATE
    spectra, peaks = {}, {}
    for d in (10.0, 300.0):
        ps, td = firearm.blast_parameters(ak, d, 90.0)
        x = absorb(firearm.blast_waveform(ps, td, fs), fs, d, 20.0, 50.0)
        peaks[d] = np.abs(x).max()
        mag = np.abs(np.fft.rfft(x, 8192)) ** 2
        f = np.fft.rfftfreq(8192, 1 / fs)
        spectra[d] = mag[f > 4000].sum() / mag.sum()
    # Spherical spreading alone is -29.5 dB from 10 m to 300 m; absorption takes more off the peak.
    drop_db = 20 * np.log10(peaks[10.0] / peaks[300.0])
    assert 29.5 < drop_db < 45
    assert spectra[300.0] < 0.5 * spectra[10.0]


def test_iso9613_against_published_table():
    # ISO 9613-2 Table 2 (10 degC, 70% RH), dB/km at 1, 2, 4, 8 kHz: 3.7, 9.7, 32.8, 117.
    alpha_km = propagation.iso9613_alpha_db_per_m(np.array([1000, 2000, 4000, 8000]), 10.0, 70.0) * 1000
    assert alpha_km == pytest.approx([3.7, 9.7, 32.8, 117.0], rel=0.03)


def test_blast_scaling_with_charge_and_barrel():
    ps_pistol, td_pistol = firearm.blast_parameters(gun("Glock 17"), 5.0, 90.0)
    ps_rifle, td_rifle = firearm.blast_parameters(gun("M16"), 5.0, 90.0)
    assert ps_rifle > 1.5 * ps_pistol  # ~4x the propellant
    assert td_rifle > td_pistol  # longer barrel, more gas
    assert 0.0002 < td_pistol < 0.003 and 0.0002 < td_rifle < 0.003
    front, back = firearm.blast_parameters(gun("M16"), 5.0, 0.0)[0], firearm.blast_parameters(gun("M16"), 5.0, 180.0)[0]
    assert 20 * np.log10(front / back) == pytest.approx(15.0, abs=0.01)


def test_clipping_only_where_requested():
    rng = derive_rng(0, "clip")
    x = rng.standard_normal(48000) * np.exp(-np.arange(48000) / 4000)
    clean = chain.apply_chain(x, 48000, CLEAN_CHAIN)
    assert np.abs(clean).max() == pytest.approx(10 ** (-1 / 20))
    hard = chain.set_level(x, 1.0, "hard", 6.0)
    assert np.sum(np.abs(hard) == 1.0) > 10
    for seed in range(40):
        params = chain.draw_chain(derive_rng(seed, "chain"))
        y = chain.apply_chain(x, 48000, params)
        at_full_scale = np.sum(np.abs(y) >= 0.999)
        if params.clipping == "none":
            assert at_full_scale == 0 and np.abs(y).max() <= 10 ** (-0.5 / 20) + 1e-9
        elif params.clipping == "hard":
            assert at_full_scale >= 2


def test_codec_standin_band_limits():
    fs = 48000
    x = derive_rng(0, "codec").standard_normal(fs)
    y = chain.codec_standin(x, fs, "lossy_32k")
    f = np.fft.rfftfreq(fs, 1 / fs)
    spec_x, spec_y = np.abs(np.fft.rfft(x)) ** 2, np.abs(np.fft.rfft(y)) ** 2
    assert spec_y[f > 9000].sum() < 1e-3 * spec_x[f > 9000].sum()
    assert spec_y[(f > 500) & (f < 5000)].sum() > 0.5 * spec_x[(f > 500) & (f < 5000)].sum()
    assert chain.codec_standin(x, fs, "none") is x


def test_reverb_tail_decays_at_rt60():
    room = propagation.Room("indoor_range", 0.8, 4.0, (), ())
    ir = propagation.room_impulse_response(room, 4.0, 16000, derive_rng(0, "ir"))
    # Energy decay (Schroeder integral) of the low band: -60 dB per RT60, -20 dB per 0.8/3 s.
    from scipy.signal import butter, sosfilt
    low = sosfilt(butter(4, 1000, "low", fs=16000, output="sos"), ir[1:])
    edc = 10 * np.log10(np.cumsum(low[::-1] ** 2)[::-1])
    t = np.arange(edc.size) / 16000
    sel = (edc < edc[0] - 5) & (edc > edc[0] - 35)
    slope_db_per_s = np.polyfit(t[sel], edc[sel], 1)[0]
    assert -60 / slope_db_per_s == pytest.approx(0.8, rel=0.15)


@pytest.mark.parametrize("kind", sorted(negatives.ALL_SCENES))
def test_every_background_fills_every_segment(kind):
    rec = RecordingPlan(f"test-{kind}", kind, None, None, 2, 0.3)
    audio, row = render_background(rec, seed=1, overrides=dict(sample_rate=16000, channels=1, chain=CLEAN_CHAIN))
    x = audio[:, 0]
    assert np.isfinite(x).all() and audio.shape[0] == int(round(4.3 * 16000))
    rms = [np.sqrt(np.mean(seg**2)) for seg in x[: 4 * 16000].reshape(2, -1)]
    assert min(rms) > 0.01 * max(rms)
    if row["event_times_s"]:
        times = np.array([float(t) for t in row["event_times_s"].split(";")])
        assert all(np.any((times >= 2 * k) & (times < 2 * k + 2)) for k in range(2))


def test_crowd_babble_has_voice_pitch_and_syllable_rhythm():
    x = scenes.voices(6.0, derive_rng(0, "babble"), 1)
    fs = scenes.VOICE_RATE
    env = np.abs(x)
    env = np.convolve(env, np.ones(320) / 320, mode="same")[::160]  # 100 Hz envelope
    spec = np.abs(np.fft.rfft(env - env.mean()))
    f = np.fft.rfftfreq(env.size, 1 / 100)
    band = (f > 1) & (f < 15)
    assert 2.5 < f[band][np.argmax(spec[band])] < 8  # syllable rate
    spec_x = np.fft.rfft(x[:fs], 2 * fs)
    ac = np.fft.irfft(np.abs(spec_x) ** 2)[:fs]  # autocorrelation
    lag = np.argmax(ac[fs // 300: fs // 70]) + fs // 300  # pitch between 70 and 300 Hz
    assert 70 < fs / lag < 300
