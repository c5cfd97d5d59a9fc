"""One simulated recording, from its plan and a seed to samples and its metadata row.

Every draw comes from `derive_rng(seed, recording_id, ...)`, so a recording does not change when
other recordings are added. The sources give sound pressure in Pa at the microphone, the path
(propagation) is applied in the frequency domain with one FFT per channel, and the recording chain
turns pressure into full-scale samples.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import soxr
from scipy import fft as sfft

from gunshot_bench.rng import derive_rng
from gunshot_bench.sim import chain, firearm, mechanism, negatives, propagation, scenes
from gunshot_bench.sim.presets import RecordingPlan
from gunshot_bench.taxonomy import get_model

#: Output rates of web audio and their shares; 192 kHz is never synthesised (96 kHz at most).
SAMPLE_RATES = (8000, 16000, 22050, 32000, 44100, 48000, 96000)
SAMPLE_RATE_P = (0.03, 0.07, 0.08, 0.05, 0.42, 0.30, 0.05)
ENVIRONMENT_P = {"open_field": 0.35, "street_canyon": 0.2, "indoor_range": 0.25, "forest": 0.2}
#: "collection" style: study A's sources are mostly outdoor and indoor ranges.
COLLECTION_ENVIRONMENT_P = {"open_field": 0.45, "street_canyon": 0.05, "indoor_range": 0.4, "forest": 0.1}
AMBIENT_KINDS = ("none", "wind", "street", "rain")


def _resample_track(x: np.ndarray, rate_in: int, rate_out: int, n_out: int) -> np.ndarray:
    y = x if rate_in == rate_out else soxr.resample(x, rate_in, rate_out, quality="HQ")
    return y[:n_out] if y.size >= n_out else np.pad(y, (0, n_out - y.size))


#: Lead-in kept before each source waveform so that the zero-phase air filter has room.
PRE_S = 0.002


@functools.lru_cache(maxsize=64)
def _air_response(nfft: int, rate: int, path_m: float, temperature_c: float, humidity_pct: float) -> np.ndarray:
    # Cached: every shot of a recording shares the path, and shots have a handful of lengths.
    return propagation.absorption_response(sfft.rfftfreq(nfft, 1.0 / rate), path_m, temperature_c, humidity_pct)


def absorb(wave: np.ndarray, rate: int, path_m: float, temperature_c: float, humidity_pct: float) -> np.ndarray:
    """Air absorption of a short source waveform over `path_m`, with PRE_S of lead-in added."""
    pre = int(PRE_S * rate)
    nfft = sfft.next_fast_len(wave.size + 2 * pre + int(0.004 * rate))
    spec = sfft.rfft(np.concatenate([np.zeros(pre), wave]), nfft)
    spec *= _air_response(nfft, rate, float(path_m), float(temperature_c), float(humidity_pct))
    return sfft.irfft(spec, nfft)


def _place(track: np.ndarray, t_s: float, wave: np.ndarray, rate: int) -> None:
    k = int(round(t_s * rate))
    if 0 <= k < track.size:
        m = min(wave.size, track.size - k)
        track[k:k + m] += wave[:m]


def draw_geometry(environment: str, rng: np.random.Generator, style: str = "diverse") -> tuple[float, float, str]:
    """Distance (m), azimuth from the line of fire (deg) and where the microphone stands.

    Most web recordings are made at the shooter's position (camera beside or behind the
    shooter); others from down range or an observer's position off to the side. "collection"
    style (study A's range and video recordings): 85% at the shooter's position, the rest at
    10-100 m.
    """
    if style == "collection":
        if rng.random() < 0.85:
            return float(rng.uniform(1.5, 6.0)), float(rng.uniform(60, 180)), "shooter"
        return float(math.exp(rng.uniform(math.log(10.0), math.log(100.0)))), float(rng.uniform(5, 80)), "downrange"
    if environment == "indoor_range":
        if rng.random() < 0.8:
            return float(rng.uniform(1.5, 6.0)), float(rng.uniform(60, 180)), "shooter"
        return float(rng.uniform(3.0, 25.0)), float(rng.uniform(5, 60)), "downrange"
    if rng.random() < 0.6:
        return float(rng.uniform(1.5, 6.0)), float(rng.uniform(60, 180)), "shooter"
    return float(math.exp(rng.uniform(math.log(10.0), math.log(300.0)))), float(rng.uniform(5, 80)), "downrange"


def _common(rng: np.random.Generator, environment: str) -> dict:
    return dict(
        environment=environment,
        sample_rate=int(rng.choice(SAMPLE_RATES, p=SAMPLE_RATE_P)),
        channels=int(rng.choice([1, 2], p=[0.55, 0.45])),
        subtype=str(rng.choice(["PCM_16", "PCM_24"], p=[0.9, 0.1])),
        temperature_c=float(rng.uniform(0.0, 35.0)),
        humidity_pct=float(rng.uniform(20.0, 90.0)),
        source_height_m=float(rng.uniform(1.0, 1.6)),
        mic_height_m=float(rng.uniform(1.0, 1.8)),
        mic_spacing_m=float(rng.uniform(0.1, 0.3)),
        self_noise_spl_db=float(rng.uniform(25.0, 40.0)),
    )


def _path_and_room(x_spec: np.ndarray, freqs: np.ndarray, nfft: int, n: int, p: dict, room,
                   distance_m: float, rng: np.random.Generator) -> np.ndarray:
    """Apply ground reflection and per-channel reverberation (and inter-mic delay) to a spectrum."""
    c = p["speed_of_sound_mps"]
    ground = propagation.ENVIRONMENTS[p["environment"]]["ground"]
    kernel = propagation.ground_reflection_kernel(distance_m, p["source_height_m"], p["mic_height_m"],
                                                  ground, c, p["sample_rate"])
    x_spec = x_spec.astype(np.complex64)  # single precision: ~2x faster, >100 dB of range
    out = np.empty((n, p["channels"]), dtype=np.float32)
    delay = p["mic_spacing_m"] * math.cos(rng.uniform(0, math.pi)) / c
    p["stereo_delay_us"] = delay * 1e6 if p["channels"] == 2 else 0.0
    for ch in range(p["channels"]):
        ir = propagation.room_impulse_response(room, distance_m, p["sample_rate"], rng)
        m = min(ir.size, kernel.size)
        ir[:m] += kernel[:m] - np.eye(1, m).ravel()  # the kernel holds the direct impulse too
        spec = x_spec * sfft.rfft(ir.astype(np.float32), nfft)
        if ch == 1:
            spec = spec * np.exp((-2j * np.pi * delay) * freqs.astype(np.float32))
        out[:, ch] = sfft.irfft(spec, nfft)[:n]
    return out


def _finish(pressure: np.ndarray, p: dict, rng: np.random.Generator,
            chain_params: chain.ChainParams | None = None) -> np.ndarray:
    """Ambience, microphone self-noise and the recording chain; records the chain draws in `p`."""
    n, fs = pressure.shape[0], p["sample_rate"]
    ambient = p.get("ambient", "none")
    if ambient != "none":
        scene = scenes.SCENES[ambient](n / fs, fs, rng)
        amb = (np.resize(scene.pressure_pa, n) * 10 ** (p["ambient_offset_db"] / 20.0)).astype(np.float32)
        p["ambient_spl_db"] = round(scene.info["spl_db"] + p["ambient_offset_db"], 2)
        pressure = pressure + amb[:, None]
    noise_pa = 20e-6 * 10 ** (p["self_noise_spl_db"] / 20.0)
    pressure += np.float32(noise_pa) * rng.standard_normal(pressure.shape, dtype=np.float32)
    params = chain.draw_chain(rng)
    params = chain_params or params
    p.update({f"chain_{k}" if k in ("agc",) else k: v for k, v in vars(params).items()})
    y = chain.apply_chain(pressure, fs, params)
    return y if y.shape[1] > 1 else y[:, :1]


#: Parameters a caller (a test, a calibration script) may fix instead of drawing them.
OVERRIDABLE = frozenset({"environment", "distance_m", "azimuth_deg", "ambient", "sample_rate", "channels",
                         "temperature_c", "humidity_pct", "chain", "muzzle_device", "suppression_db"})


def _check_overrides(overrides: dict | None) -> dict:
    overrides = dict(overrides or {})
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise ValueError(f"cannot override {sorted(unknown)}; overridable: {sorted(OVERRIDABLE)}")
    return overrides


def draw_session(rec: RecordingPlan, seed: int, mech: mechanism.Mechanism) -> dict:
    """What a recording shares with the other recordings of its session: place, microphone
    position, chain, ambience, and whether the gun wore a suppressor that day."""
    rng = derive_rng(seed, "session", rec.session or rec.recording_id)
    env_p = COLLECTION_ENVIRONMENT_P if rec.style == "collection" else ENVIRONMENT_P
    environment = str(rng.choice(list(env_p), p=list(env_p.values())))
    s = _common(rng, environment)
    distance, azimuth, position = draw_geometry(environment, rng, rec.style)
    s.update(distance_m=distance, azimuth_deg=azimuth, mic_position=position,
             ambient=str(rng.choice(AMBIENT_KINDS, p=[0.4, 0.25, 0.2, 0.15])),
             ambient_offset_db=float(rng.uniform(-10.0, 0.0)), chain=chain.draw_chain(rng),
             room=propagation.draw_room(environment, rng))
    suppressed = rng.random() < mech.suppressor_share
    s["muzzle_device"] = "suppressor" if suppressed else mech.muzzle_device
    s["suppression_db"] = float(rng.uniform(*mechanism.SUPPRESSION_DB)) if suppressed else 0.0
    return s


def render_gunshot(rec: RecordingPlan, seed: int, overrides: dict | None = None) -> tuple[np.ndarray, dict]:
    """Samples [frames, channels] in [-1, 1] and every drawn parameter of a gunshot recording.

    The place, microphone, chain and ambience are drawn per session (`draw_session`); within a
    session the distance varies by -20..+25% and the azimuth by +-15 deg between recordings.
    `overrides` fixes some drawn parameters (see OVERRIDABLE); every draw still happens, so the
    other parameters are the same as without it.
    """
    overrides = _check_overrides(overrides)
    rng = derive_rng(seed, rec.recording_id)
    model = get_model(rec.model)
    mech = mechanism.mechanism_of(model)
    pgun = mechanism.physical_gun(mech, rec.model, rec.gun, seed)
    nominal = firearm.gun_acoustics(model)
    gun = dataclasses.replace(nominal, muzzle_velocity_mps=nominal.muzzle_velocity_mps * pgun.velocity_factor)
    if gun.cyclic_rate_rpm:
        gun = dataclasses.replace(gun, cyclic_rate_rpm=gun.cyclic_rate_rpm * pgun.rate_factor)
    session = draw_session(rec, seed, mech)
    room, chain_params = session.pop("room"), session.pop("chain")
    environment = overrides.get("environment", session["environment"])
    if environment != session["environment"]:
        room = propagation.draw_room(environment, derive_rng(seed, "session-room", rec.recording_id))
    p = dict(session, environment=environment, action=gun.action, session=rec.session or rec.recording_id,
             gun_index=rec.gun, bolt=mech.bolt)
    p["distance_m"] = float(session["distance_m"] * rng.uniform(0.8, 1.25))
    p["azimuth_deg"] = float(np.clip(session["azimuth_deg"] + rng.uniform(-15, 15), 0.0, 180.0))
    p.update({k: v for k, v in overrides.items() if k != "chain"})
    if "muzzle_device" in overrides and "suppression_db" not in overrides:
        p["suppression_db"] = 0.0 if overrides["muzzle_device"] != "suppressor" else 22.0
    distance, azimuth = p["distance_m"], p["azimuth_deg"]
    c = p["speed_of_sound_mps"] = firearm.speed_of_sound_mps(p["temperature_c"])
    sched = firearm.firing_schedule(gun, rec.duration_s, rng)
    device = "bare" if p["muzzle_device"] == "suppressor" else p["muzzle_device"]
    blasts = mechanism.blast_components(gun, distance, azimuth, device, p["suppression_db"])
    shock = firearm.shock_arrival(gun, distance, azimuth, c)
    sr_src, fs = firearm.SOURCE_RATE, p["sample_rate"]
    n_src, n = int(rec.duration_s * sr_src), int(round(rec.duration_s * fs))
    track = np.zeros(n_src)
    period = 60.0 / sched.cyclic_rate_rpm if sched.cyclic_rate_rpm else None
    spread = propagation.spherical_spreading(distance)
    air = dict(temperature_c=p["temperature_c"], humidity_pct=p["humidity_pct"])
    blast_air = lambda w: absorb(w, sr_src, distance, **air)
    path = lambda w: blast_air(w) * spread
    bank = mechanism.SignatureBank(pgun, rng, path_filter=path)
    case_bank = firearm.ClickBank(rng, path_filter=path)
    nwave = absorb(firearm.n_wave(1.0, shock.duration_s, sr_src), sr_src, shock.path_m, **air) if shock.present else None
    previous = -10.0
    for t in sched.times_s:
        for ps, td in blasts:
            # Shot-to-shot spread of a lot of ammunition: ~1% muzzle velocity SD, ~0.5 dB peak, ~3% duration.
            blast = firearm.blast_waveform(ps * 10 ** (0.5 * rng.standard_normal() / 20),
                                           td * (1 + 0.03 * rng.standard_normal()), sr_src)
            _place(track, t - PRE_S, blast_air(blast), sr_src)
        if nwave is not None:
            _place(track, t - shock.lead_s - PRE_S, nwave * (shock.peak_pa * (1 + 0.05 * rng.standard_normal())), sr_src)
        first = t - previous > 1.5 * (period or 0.2)
        for dt, wave in mechanism.action_events(gun, mech, pgun, period, first, rng, bank, case_bank):
            _place(track, t + dt - PRE_S, wave, sr_src)
        previous = t
    nfft = sfft.next_fast_len(n + propagation.ir_length(room, fs) + 1)
    freqs = sfft.rfftfreq(nfft, 1.0 / fs)
    spec = sfft.rfft(_resample_track(track, sr_src, fs, n).astype(np.float32), nfft)
    pressure = _path_and_room(spec, freqs, nfft, n, p, room, distance, rng)
    audio = _finish(pressure, p, rng, overrides.get("chain", chain_params))
    ps, td = blasts[0]
    p.update(
        firing_mode=sched.mode, n_shots=int(sched.times_s.size),
        shot_times_s=";".join(f"{t:.5f}" for t in sched.times_s),
        cyclic_rate_rpm=sched.cyclic_rate_rpm or "", nominal_cyclic_rate_rpm=gun.cyclic_rate_rpm or "",
        interval_jitter=sched.jitter if sched.cyclic_rate_rpm else "",
        blast_peak_pa=ps, blast_duration_ms=td * 1e3, blast_tnt_equivalent_g=gun.tnt_equivalent_kg() * 1e3,
        device_jet_peak_pa=blasts[1][0] if len(blasts) > 1 else 0.0,
        mech_mode_hz=pgun.mode_hz[0], mech_loss_factor=pgun.loss_factor, mech_cycle_ms=pgun.cycle_s * 1e3,
        muzzle_velocity_mps=gun.muzzle_velocity_mps,
        nwave_present=shock.present, nwave_lead_ms=shock.lead_s * 1e3, nwave_peak_pa=shock.peak_pa,
        nwave_duration_us=shock.duration_s * 1e6, nwave_miss_distance_m=shock.miss_distance_m,
        nwave_mach=shock.mach, nwave_absent_reason=shock.reason, rt60_s=room.rt60_s,
        critical_distance_m=room.critical_distance_m, n_early_reflections=len(room.early_delays_s),
        physics_fallbacks=";".join(gun.fallbacks))
    p["sim_params"] = sim_params(p)
    return audio, p


#: The generation parameters a listener could in principle recover from the audio, for the oracle.
ORACLE_KEYS = ("blast_tnt_equivalent_g", "blast_duration_ms", "nwave_present", "action", "bolt", "cyclic_rate_rpm",
               "mech_mode_hz", "mech_loss_factor", "mech_cycle_ms", "muzzle_device")


def sim_params(p: dict) -> str:
    """JSON of the listener-recoverable parameters of a recording (never its label or model)."""
    out = {}
    for key in ORACLE_KEYS:
        value = p.get(key, None)
        value = None if value == "" else value
        out[key] = round(float(value), 4) if isinstance(value, (float, np.floating)) else value
    return json.dumps(out, sort_keys=True)


def render_background(rec: RecordingPlan, seed: int, overrides: dict | None = None) -> tuple[np.ndarray, dict]:
    """Samples and parameters of a background or confuser recording (`overrides` as for gunshots,
    except geometry: a confuser's distance belongs to its scene)."""
    overrides = _check_overrides(overrides)
    rng = derive_rng(seed, rec.recording_id)
    environment = str(rng.choice(negatives.ALL_ENVIRONMENTS[rec.kind]))
    environment = overrides.get("environment", environment)
    p = _common(rng, environment)
    p.update({k: v for k, v in overrides.items() if k in ("sample_rate", "channels", "temperature_c", "humidity_pct")})
    c = firearm.speed_of_sound_mps(p["temperature_c"])
    fs = p["sample_rate"]
    n = int(round(rec.duration_s * fs))
    scene = negatives.ALL_SCENES[rec.kind](rec.duration_s, fs, rng)
    x = scene.pressure_pa[:n]
    x = np.pad(x, (0, n - x.size))
    room = propagation.draw_room(environment, rng)
    nfft = sfft.next_fast_len(n + propagation.ir_length(room, fs) + 1)
    freqs = sfft.rfftfreq(nfft, 1.0 / fs)
    spec = sfft.rfft(x, nfft)
    # Diffuse scenes are heard from a few metres; point confusers from their drawn distance.
    distance = scene.distance_m or float(rng.uniform(2.0, 6.0))
    if scene.distance_m:
        spec = spec * propagation.spherical_spreading(distance) * propagation.absorption_response(
            freqs, distance, p["temperature_c"], p["humidity_pct"])
    p.update(distance_m=distance, azimuth_deg="", speed_of_sound_mps=c, ambient="none")
    pressure = _path_and_room(spec, freqs, nfft, n, p, room, distance, rng)
    audio = _finish(pressure, p, rng, overrides.get("chain"))
    p.update(n_events=len(scene.event_times_s),
             event_times_s=";".join(f"{t:.5f}" for t in scene.event_times_s),
             scene_info=json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in scene.info.items()},
                                   sort_keys=True),
             rt60_s=room.rt60_s, critical_distance_m=room.critical_distance_m,
             n_early_reflections=len(room.early_delays_s))
    # No shot: the firearm parameters are absent, which is itself what a listener hears.
    p["sim_params"] = sim_params(dict(nwave_present=False, action="none", bolt="none", muzzle_device="none"))
    return audio, p
