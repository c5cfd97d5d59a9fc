"""What identifies a firearm in the simulator: mechanical signature, muzzle devices, guns,
sessions, and the oracle that measures how identifiable the models are."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt

from gunshot_bench.rng import derive_rng
from gunshot_bench.sim import mechanism
from gunshot_bench.sim.firearm import SOURCE_RATE, gun_acoustics
from gunshot_bench.sim.oracle import oracle_features, oracle_proba
from gunshot_bench.sim.presets import plan
from gunshot_bench.sim.recording import ORACLE_KEYS, render_gunshot
from gunshot_bench.sim.presets import RecordingPlan
from gunshot_bench.taxonomy import CATEGORIES, MODELS, get_model

from test_sim_physics import CLEAN_CHAIN

QUIET = dict(environment="open_field", ambient="none", sample_rate=48000, channels=1, chain=CLEAN_CHAIN,
             distance_m=3.0, azimuth_deg=90.0, temperature_c=20.0, humidity_pct=50.0)


def render(model, rid, gun=0, session="", **overrides):
    rec = RecordingPlan(rid, "gunshot", model, get_model(model).category, 3, 0.5, session, gun)
    return render_gunshot(rec, 0, dict(QUIET, **overrides))


def click_delays_ms(audio, row):
    """Time from each shot to the strongest >1 kHz transient 12-72 ms later (the in-battery click)."""
    fs = row["sample_rate"]
    x = sosfiltfilt(butter(4, 1000, "high", fs=fs, output="sos"), audio[:, 0])
    out = []
    for t in map(float, row["shot_times_s"].split(";")):
        k = int((t + 0.012) * fs)
        w = np.abs(x[k:k + int(0.06 * fs)])
        if w.size == int(0.06 * fs):
            out.append(1e3 * ((k + np.argmax(w)) / fs - t))
    return np.array(out)


def peak_hz(wave, rate=SOURCE_RATE):
    spec = np.abs(np.fft.rfft(wave, 1 << 16))
    return np.fft.rfftfreq(1 << 16, 1 / rate)[np.argmax(spec)]


# ----------------------------------------------------------------------------- mechanical signature
def test_click_timing_is_the_models_own_in_generated_audio():
    glock_a = click_delays_ms(*render("Glock 17", "t-a", muzzle_device="bare"))
    glock_b = click_delays_ms(*render("Glock 17", "t-b", muzzle_device="bare"))
    eagle = click_delays_ms(*render("Desert Eagle", "t-c", muzzle_device="bare"))
    assert len(glock_a) >= 3 and len(glock_b) >= 3 and len(eagle) >= 3
    # consistent across two recordings of the same gun: medians within 1 ms, each shot within 2 ms
    assert abs(np.median(glock_a) - np.median(glock_b)) < 1.0
    assert np.ptp(np.r_[glock_a, glock_b]) < 2.0
    # the heavier slide (620 g vs 330 g) returns later: spring-mass stroke time sqrt(2 m s / F)
    assert np.median(eagle) - np.median(glock_a) > 4.0
    nominal = mechanism.nominal_gun(mechanism.mechanism_of(get_model("Glock 17"))).cycle_s * 1e3
    assert np.median(glock_a) == pytest.approx(nominal, rel=0.1)


def test_click_modes_consistent_within_a_gun_and_differ_between_models():
    def gun(model, index=0):
        return mechanism.physical_gun(mechanism.mechanism_of(get_model(model)), model, index)

    glock = [peak_hz(mechanism.signature_click(gun("Glock 17"), derive_rng(0, "c", i), 1.0)) for i in range(4)]
    assert np.ptp(glock) / np.mean(glock) < 0.02  # same gun: modes within 2%
    eagle = peak_hz(mechanism.signature_click(gun("Desert Eagle"), derive_rng(0, "d"), 1.0))
    mp7 = peak_hz(mechanism.signature_click(gun("MP7"), derive_rng(0, "e"), 1.0))
    # f ~ m^(-1/3): the 620 g slide rings ~19% lower, the 160 g bolt ~27% higher
    assert eagle < 0.88 * np.mean(glock) and mp7 > 1.15 * np.mean(glock)
    # another physical gun of the same model differs by the small per-gun spread only
    other = gun("Glock 17", 1).mode_hz[0] / gun("Glock 17", 0).mode_hz[0]
    assert 0.9 < other < 1.1 and other != 1.0


def test_polymer_frames_damp_the_click_faster_than_steel():
    def decay_ms(model):
        g = mechanism.nominal_gun(mechanism.mechanism_of(get_model(model)))
        w = np.abs(mechanism.signature_click(g, derive_rng(0, model), 1.0))
        env = np.maximum.accumulate(w[::-1])[::-1]  # upper envelope
        return 1e3 * np.argmax(env < 0.1) / SOURCE_RATE

    assert decay_ms("Glock 17") < 0.5 * decay_ms("Colt M1911")


def test_open_bolt_clicks_before_the_first_shot():
    ga = gun_acoustics(get_model("Uzi"))
    mech = mechanism.mechanism_of(get_model("Uzi"))
    g = mechanism.nominal_gun(mech)
    bank = mechanism.SignatureBank(g, derive_rng(0, "b"))
    first = mechanism.action_events(ga, mech, g, 0.1, True, derive_rng(0, "x"), bank)
    later = mechanism.action_events(ga, mech, g, 0.1, False, derive_rng(0, "x"), bank)
    assert min(t for t, _ in first) < 0 <= min(t for t, _ in later)
    closed = mechanism.mechanism_of(get_model("MP5"))
    g5 = mechanism.nominal_gun(closed)
    ev = mechanism.action_events(gun_acoustics(get_model("MP5")), closed, g5, 0.075, True, derive_rng(0, "y"),
                                 mechanism.SignatureBank(g5, derive_rng(0, "z")))
    assert min(t for t, _ in ev) > 0


# ----------------------------------------------------------------------------- muzzle devices
def first_blast_db(audio, row):
    fs = row["sample_rate"]
    t = float(row["shot_times_s"].split(";")[0])
    k = int(t * fs)
    return 20 * np.log10(np.abs(audio[k - int(0.002 * fs): k + int(0.004 * fs), 0]).max())


def test_brake_is_louder_behind_the_muzzle_and_suppressor_much_quieter():
    behind = dict(azimuth_deg=160.0, distance_m=4.0)
    bare_a, bare_r = render("AK-12", "t-d", muzzle_device="bare", **behind)
    brake_a, brake_r = render("AK-12", "t-d", muzzle_device="brake", **behind)
    comp_a, comp_r = render("AK-12", "t-d", muzzle_device="compensator", **behind)
    supp_a, supp_r = render("AK-12", "t-d", muzzle_device="suppressor", suppression_db=22.0, **behind)
    # The chain normalises each file's peak, so compare the blast to the (identical) mechanical click:
    # the 35% (15%) of the gas a brake (compensator) turns sideways is nearly as strong behind the muzzle.
    ref = {k: float(np.percentile(np.abs(a[:, 0]), 99.9)) for k, a in
           (("bare", bare_a), ("brake", brake_a), ("comp", comp_a), ("supp", supp_a))}
    rel = {k: first_blast_db(a, r) - 20 * np.log10(ref[k]) for k, (a, r) in
           (("bare", (bare_a, bare_r)), ("brake", (brake_a, brake_r)), ("comp", (comp_a, comp_r)),
            ("supp", (supp_a, supp_r)))}
    # Physics functions directly: levels at the microphone
    ga = gun_acoustics(get_model("AK-12"))
    level = lambda dev, az, s=0.0: 20 * np.log10(sum(p for p, _ in mechanism.blast_components(ga, 4.0, az, dev, s)))
    assert level("brake", 160) - level("bare", 160) > 6.0
    assert 3.0 < level("compensator", 160) - level("bare", 160) < level("brake", 160) - level("bare", 160)
    assert abs(level("brake", 0) - level("bare", 0)) < 1.5  # ahead of the muzzle the device matters little
    assert level("bare", 160) - level("bare", 160, 22.0) > 12.0  # suppressed: suppression_db > 0
    # and in the generated audio, relative to the rest of the recording
    assert rel["brake"] >= rel["bare"] - 0.5 and rel["supp"] < rel["bare"]
    # the jet's smaller charge makes a shorter positive phase (Hopkinson-Cranz): brighter spectrum
    (_, td_main), (_, td_jet) = mechanism.blast_components(ga, 4.0, 160, "brake")
    assert td_jet < td_main
    assert brake_r["device_jet_peak_pa"] > 0 and bare_r["device_jet_peak_pa"] == 0


def test_suppressor_keeps_the_n_wave():
    down = dict(azimuth_deg=20.0, distance_m=60.0)
    audio, row = render("MK18", "t-e", muzzle_device="suppressor", suppression_db=25.0, **down)
    assert row["nwave_present"] is True and row["muzzle_device"] == "suppressor"
    _, bare = render("MK18", "t-e", muzzle_device="bare", **down)
    assert bare["blast_peak_pa"] / row["blast_peak_pa"] > 10 ** (18 / 20)


# ----------------------------------------------------------------------------- guns and sessions
def test_sessions_share_place_and_chain_and_guns_rotate():
    recs = [r for r in plan("small") if r.model == "M4"]
    assert len({r.session for r in recs}) == 3 and {r.gun for r in recs} == {0, 1}
    diverse = [r for r in plan("diverse") if r.model == "M4"]
    assert len({r.session for r in diverse}) == len(diverse)
    base = dict(RecordingPlan("x", "gunshot", "M4", "rifle", 1, 0.5).__dict__)
    rows = []
    for rid, session in (("t-s1", "sess-1"), ("t-s2", "sess-1"), ("t-s3", "sess-2"), ("t-s4", "sess-3")):
        rec = RecordingPlan(**dict(base, recording_id=rid, session=session))
        rows.append(render_gunshot(rec, 0)[1])
    keys = ("environment", "sample_rate", "channels", "mic", "codec", "rt60_s", "muzzle_device", "ambient")
    assert all(rows[0][k] == rows[1][k] for k in keys)
    assert 0.6 < rows[0]["distance_m"] / rows[1]["distance_m"] < 1.6
    assert any(rows[0][k] != r[k] for r in rows[2:] for k in keys)


# ----------------------------------------------------------------------------- oracle
@pytest.fixture(scope="module")
def oracle_rows():
    """sim_params rows of a small hand-made corpus: 3 recordings of each of 8 models (no audio)."""
    rows = []
    for model in MODELS[::4]:
        for i in range(3):
            rec = RecordingPlan(f"o-{model}-{i}", "gunshot", model, get_model(model).category, 1, 0.3,
                                f"o-{model}-s{i}", i % 2)
            _, p = render_gunshot(rec, 0, dict(sample_rate=8000, channels=1, chain=CLEAN_CHAIN))
            rows.append(dict(sim_params=p["sim_params"], category=CATEGORIES.index(get_model(model).category),
                             model=MODELS.index(model), label_raw=model, recording_id=rec.recording_id))
    return pd.DataFrame(rows)


def test_sim_params_hold_no_label(oracle_rows):
    frame = oracle_rows
    for text, model in zip(frame["sim_params"], frame["label_raw"]):
        params = json.loads(text)
        assert set(params) == set(ORACLE_KEYS)
        assert not {"model", "category", "label", "recording_id"} & set(params)
        assert model not in text
    scrambled = frame.assign(category=0, model=0, label_raw="x", recording_id="y")
    assert np.array_equal(oracle_features(frame), oracle_features(scrambled), equal_nan=True)
    assert np.isnan(oracle_features(pd.DataFrame({"sim_params": [""]}))).all()
    # blurred by a listener's resolution: close to, but not exactly, the generating figures
    exact, blurred = oracle_features(frame), oracle_features(frame, derive_rng(0, "blur"))
    ok = np.isfinite(exact) & (exact != 0)
    ratio = blurred[ok] / exact[ok]
    assert np.all((ratio > 0.2) & (ratio < 5.0)) and np.mean(ratio != 1.0) > 0.3


def test_oracle_beats_chance_and_never_sees_the_label(oracle_rows):
    frame = oracle_rows
    test_mask = frame["recording_id"].str.endswith("-2").to_numpy()
    train, test = frame[~test_mask].reset_index(drop=True), frame[test_mask].reset_index(drop=True)
    proba = oracle_proba(train, train["model"].to_numpy(), test, len(MODELS), seed=0)
    assert proba.shape == (len(test), len(MODELS)) and np.allclose(proba.sum(axis=1), 1.0)
    accuracy = np.mean(proba.argmax(axis=1) == test["model"].to_numpy())
    assert accuracy > 2.0 / 8  # 8 balanced classes: chance 1/8
    # the label columns are not used: changing them in the test rows changes nothing
    again = oracle_proba(train, train["model"].to_numpy(), test.assign(model=-1, category=-1, label_raw=""),
                         len(MODELS), seed=0)
    assert np.array_equal(proba, again)
