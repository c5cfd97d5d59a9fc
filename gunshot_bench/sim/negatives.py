"""The negatives a real detector meets: urban classes, firearm handling, impulsive confusers, ambiences.

Each generator has the `scenes` signature (duration_s, sample_rate, rng) -> Scene and its own
physics; `LEVELS` holds the documented level range of each kind and how it is measured:
"rms_mic" (RMS at the microphone, diffuse scenes), "rms_1m" (RMS at 1 m of a continuous point
source) or "peak_1m" (peak of the loudest event at 1 m of an impulsive point source). Point
sources are then propagated from `Scene.distance_m` like a gunshot. No negative makes a
ballistic N-wave or a Friedlander blast of gunshot strength. The groundings are in
docs/simulator.md; levels marked there as assumptions are order-of-magnitude estimates.

- Urban classes of Salamon, Jacoby & Bello (2014, ACM MM, "A dataset and taxonomy for urban
  sound research"): air conditioner (fan blade-pass tone + compressor hum + flow noise), car
  horn (two detuned diaphragm tones), children playing (high-pitched voices and shouts), dog
  bark (harmonic bursts, F0 300-700 Hz), drilling (motor whine + bit noise), engine idling
  (firing frequency cylinders x rpm / 120 and harmonics), jackhammer (18-28 blows/s), siren
  (wail, yelp, hi-lo), street music (plucked strings by Karplus-Strong + a singer).
- Handling: magazine in/out, slide or bolt racked (the slide's impact uses a real model's
  mechanical signature, `sim.mechanism`), dry fire, cases dropping on concrete, wood, gravel or
  grass (bounce intervals shrinking by the restitution coefficient e: 2 e^k v0 / g).
- Impulsive confusers: nail gun, construction impacts, slamming lids, thunder (rumble of 20-250
  Hz over seconds, Few 1969), sports balls (basketball dribbles, tennis hits).
- Quiet ambiences: car park, square, office.
"""

from __future__ import annotations

import math

import numpy as np
import soxr
from scipy import signal

from gunshot_bench.sim import mechanism, scenes
from gunshot_bench.sim.firearm import friedlander
from gunshot_bench.sim.scenes import Scene, _event_times, _impulsive, _modes, _pa, _place, _resample, _sos, _to_rms
from gunshot_bench.taxonomy import MODELS, get_model

#: kind -> (lowest dB, highest dB, how measured); see the module docstring.
LEVELS = {
    "air_conditioner": (50, 70, "rms_mic"), "car_horn": (105, 118, "peak_1m"), "children_playing": (60, 78, "rms_mic"),
    "dog_bark": (95, 112, "peak_1m"), "drilling": (85, 100, "rms_1m"), "engine_idling": (60, 78, "rms_mic"),
    "jackhammer": (112, 125, "peak_1m"), "siren": (110, 122, "rms_1m"), "street_music": (65, 82, "rms_mic"),
    "magazine_noise": (95, 110, "peak_1m"), "slide_rack_noise": (110, 122, "peak_1m"),
    "dry_fire_noise": (92, 105, "peak_1m"), "case_drop_noise": (80, 95, "peak_1m"), "nail_gun": (115, 130, "peak_1m"),
    "construction_impact_noise": (110, 125, "peak_1m"),
    "lid_slam_noise": (105, 120, "peak_1m"), "thunder": (65, 90, "rms_mic"), "sports_ball_noise": (95, 115, "peak_1m"),
    "ambience_car_park": (45, 58, "rms_mic"), "ambience_square": (48, 60, "rms_mic"),
    "ambience_office": (35, 48, "rms_mic"),
}


def _level(kind: str, rng: np.random.Generator) -> float:
    lo, hi, _ = LEVELS[kind]
    return float(rng.uniform(lo, hi))


def _norm(x: np.ndarray) -> np.ndarray:
    return x / (np.abs(x).max() or 1.0)


def _band(x: np.ndarray, lo: float, hi: float, fs: int) -> np.ndarray:
    return signal.sosfilt(_sos("bandpass", (lo, min(hi, 0.45 * fs)), fs), x)


def _bursts(n: int, fs: int, rng: np.random.Generator, on_s, off_s) -> np.ndarray:
    """On/off envelope (10 ms ramps) of a tool used in bursts; off gaps short enough for every segment."""
    env, t = np.zeros(n), rng.uniform(0.0, 0.3)
    while t * fs < n:
        a, b = int(t * fs), min(n, int((t + rng.uniform(*on_s)) * fs))
        env[a:b] = 1.0
        t = b / fs + rng.uniform(*off_s)
    ramp = max(1, int(0.01 * fs))
    return np.convolve(env, np.ones(ramp) / ramp, mode="same")


def _peak_scene(x: np.ndarray, times, kind: str, rng, distance_m: float, info=None) -> Scene:
    """An impulsive point source whose loudest event peaks at the drawn level at 1 m."""
    spl = _level(kind, rng)
    return Scene(_pa(spl) * _norm(x), tuple(float(t) for t in times), distance_m, {"peak_db_1m": spl, **(info or {})})


def _rms_point(x: np.ndarray, kind: str, rng, distance_m: float, info=None, times=()) -> Scene:
    spl = _level(kind, rng)
    return Scene(_to_rms(x, spl), tuple(times), distance_m, {"rms_db_1m": spl, **(info or {})})


def _rms_mic(x: np.ndarray, kind: str, rng, info=None) -> Scene:
    spl = _level(kind, rng)
    return Scene(_to_rms(x, spl), info={"spl_db": spl, **(info or {})})


# --------------------------------------------------------------------------- urban classes
def air_conditioner(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    bpf = int(rng.integers(3, 6)) * rng.uniform(600, 1100) / 60.0  # blades x rpm / 60
    mains = float(rng.choice([50.0, 60.0]))
    wobble = 1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
    tones = sum(np.sin(2 * np.pi * k * bpf * t) / k for k in range(1, 5)) * wobble
    hum = np.sin(2 * np.pi * 2 * mains * t) + 0.3 * np.sin(2 * np.pi * 4 * mains * t)
    flow = signal.sosfilt(_sos("low", 800, fs, 1), rng.standard_normal(n))  # -6 dB/oct flow noise
    x = flow / (np.std(flow) or 1.0) + 0.4 * tones + 0.3 * hum
    return _rms_mic(x, "air_conditioner", rng, {"blade_pass_hz": bpf})


def car_horn(duration_s, fs, rng) -> Scene:
    f1 = rng.uniform(380, 520)
    f2 = f1 * rng.uniform(1.2, 1.3)  # the two horns of a pair, about a major third apart

    def honk():
        m = int(rng.uniform(0.15, 1.0) * fs)
        t = np.arange(m) / fs
        w = np.tanh(4 * np.sin(2 * np.pi * f1 * t)) + np.tanh(4 * np.sin(2 * np.pi * f2 * t))
        return w * np.minimum(1.0, np.minimum(t / 0.01, (m / fs - t) / 0.02))
    n = int(duration_s * fs)
    times = _event_times(duration_s, rng, (0.3, 1.6))
    return _peak_scene(_place(n, times, [honk() for _ in times], fs), times, "car_horn", rng, float(rng.uniform(5, 40)))


def children_playing(duration_s, fs, rng) -> Scene:
    shouts = scenes.voices(duration_s, rng, int(rng.integers(2, 6)), f0_hz=(250.0, 450.0), scream=True)
    babble = scenes.voices(duration_s, rng, int(rng.integers(3, 10)))
    x = _resample(0.6 * shouts + babble, scenes.VOICE_RATE, fs, int(duration_s * fs))
    return _rms_mic(x, "children_playing", rng)


def dog_bark(duration_s, fs, rng) -> Scene:
    f0 = rng.uniform(300, 700)  # one dog

    def bout():
        out = np.zeros(int(1.2 * fs))
        for k in range(int(rng.integers(1, 4))):
            m = int(rng.uniform(0.08, 0.25) * fs)
            t = np.arange(m) / fs
            f = f0 * (1 + 0.15 * np.sin(np.pi * t / t[-1]))  # rise and fall of pitch within a bark
            w = sum(np.sin(2 * np.pi * h * np.cumsum(f) / fs) / h for h in range(1, 6))
            w = w + 0.5 * rng.standard_normal(m)
            w = _band(w, 400, 3000, fs) * np.exp(-t / (0.3 * t[-1])) * np.minimum(1.0, t / 0.005)
            a = int(k * rng.uniform(0.25, 0.4) * fs)
            out[a:a + m] += w[: out.size - a]
        return out
    n = int(duration_s * fs)
    times = _event_times(duration_s, rng, (0.4, 1.6))
    return _peak_scene(_place(n, times, [bout() for _ in times], fs), times, "dog_bark", rng, float(rng.uniform(3, 30)))


def drilling(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    f_motor, f_whine = rng.uniform(150, 400), rng.uniform(2000, 5000)
    motor = sum(np.sin(2 * np.pi * k * f_motor * t) / k for k in range(1, 6)) + 0.5 * np.sin(2 * np.pi * f_whine * t)
    bit = _band(rng.standard_normal(n), 1000, 6000, fs)
    x = (motor + 2.0 * bit / (np.std(bit) or 1.0)) * _bursts(n, fs, rng, (1.0, 4.0), (0.2, 0.6))
    return _rms_point(x, "drilling", rng, float(rng.uniform(2, 20)))


def engine_idling(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    cylinders = int(rng.choice([4, 6]))
    rpm = rng.uniform(650, 900) * (1 + 0.01 * np.interp(np.arange(n), np.linspace(0, n, 8), rng.standard_normal(8)))
    firing = np.cumsum(cylinders * rpm / 120.0) / fs  # four-stroke: a firing every 2/cylinders revolutions
    x = sum(np.sin(2 * np.pi * k * firing) / k for k in range(1, 9)) + 0.3 * np.sin(np.pi * firing)
    x = x + 0.3 * signal.sosfilt(_sos("low", 500, fs), rng.standard_normal(n))  # exhaust and mechanical noise
    return _rms_mic(x, "engine_idling", rng, {"firing_hz": float(cylinders * rpm.mean() / 120.0)})


def jackhammer(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    rate = rng.uniform(18, 28)
    blow = _modes(fs, rng, 6, (500, 4000), (0.005, 0.015), 0.04)
    blow[: int(0.001 * fs)] += rng.standard_normal(int(0.001 * fs))
    env = _bursts(n, fs, rng, (1.0, 5.0), (0.2, 0.8))
    times = np.arange(rng.uniform(0, 0.05), duration_s - 0.05, 1.0 / rate)
    times = times[env[(times * fs).astype(int)] > 0.5]
    x = _place(n, times, [blow * rng.uniform(0.8, 1.0) for _ in times], fs)
    hiss = _band(rng.standard_normal(n), 1000, 8000, fs) * env
    x = x + 0.05 * hiss / (np.std(hiss) or 1.0)
    return _peak_scene(x, (), "jackhammer", rng, float(rng.uniform(5, 60)), {"blows_per_s": rate})


def siren(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    mode = str(rng.choice(["wail", "yelp", "hilo"]))
    if mode == "hilo":
        f = np.where((t / rng.uniform(0.4, 0.6)) % 2 < 1, rng.uniform(420, 480), rng.uniform(560, 640))
    else:
        period = rng.uniform(3.5, 6.0) if mode == "wail" else rng.uniform(0.25, 0.35)
        f = 650 + 850 * (0.5 - 0.5 * np.cos(2 * np.pi * t / period))
    phase = np.cumsum(f) / fs
    x = sum(np.sin(2 * np.pi * k * phase) / k for k in (1, 3, 5, 7))  # square-like electronic driver
    return _rms_point(x, "siren", rng, float(rng.uniform(20, 300)), {"mode": mode})


def street_music(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    x = np.zeros(n)
    beat = 60.0 / rng.uniform(70, 130)
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    plucks = []
    for semis in (0, 7, 12, 16):  # a chord's strings, each a Karplus-Strong string (one pluck reused per beat)
        period = max(2, int(fs / (root * 2 ** (semis / 12))))
        y = np.zeros(int(1.5 * fs))
        y[:period] = rng.uniform(-1, 1, period)
        plucks.append(signal.lfilter([1.0], np.r_[1.0, np.zeros(period - 1), -0.497, -0.497], y))
    for i in range(int(duration_s / beat) + 1):
        for j, y in enumerate(plucks):  # strummed: strings 4.5 ms apart
            a = int(i * beat * fs) + int(0.0045 * fs) * j
            if a < n:
                x[a:a + y.size] += rng.uniform(0.6, 1.0) * y[: n - a]
    voice = _resample(scenes.voices(duration_s, rng, 1), scenes.VOICE_RATE, fs, n)
    return _rms_mic(x / (np.std(x) or 1.0) + 0.7 * voice, "street_music", rng)


# --------------------------------------------------------------------------- firearm handling
def _random_gun(rng: np.random.Generator, categories=("pistol", "rifle", "submachine_gun")):
    names = [m for m in MODELS if get_model(m).category in categories]
    name = names[int(rng.integers(len(names)))]
    mech = mechanism.mechanism_of(get_model(name))
    return name, mechanism.physical_gun(mech, name, int(rng.integers(3)))


def _scrape(fs, rng, length_s) -> np.ndarray:
    m = int(length_s * fs)
    return _band(rng.standard_normal(m), 1000, 6000, fs) * np.hanning(m) * 0.15


def _resampled_click(gun, rng, fs) -> np.ndarray:
    w = mechanism.signature_click(gun, rng, 1.0)
    return w if fs == mechanism.SOURCE_RATE else soxr.resample(w, mechanism.SOURCE_RATE, fs)


def magazine_noise(duration_s, fs, rng) -> Scene:
    def one():
        latch = _modes(fs, rng, 5, (2000, 8000), (0.003, 0.008), 0.05)
        if rng.random() < 0.5:  # insertion: slide into the well, then the latch catches
            scrape = _scrape(fs, rng, rng.uniform(0.06, 0.15))
            return np.concatenate([scrape, latch])
        drop = _modes(fs, rng, 4, (200, 1500), (0.01, 0.03), 0.15)  # released: it falls on the bench/floor
        out = np.zeros(int(0.5 * fs) + drop.size)
        out[: latch.size] += 0.5 * latch
        k = int(rng.uniform(0.25, 0.45) * fs)
        out[k:k + drop.size] += drop
        return out
    n = int(duration_s * fs)
    times = _event_times(duration_s, rng, (0.5, 1.6))
    return _peak_scene(_place(n, times, [one() for _ in times], fs), times, "magazine_noise", rng,
                       float(rng.uniform(0.5, 5.0)))


def slide_rack_noise(duration_s, fs, rng) -> Scene:
    name, gun = _random_gun(rng)

    def one():
        pull = _scrape(fs, rng, rng.uniform(0.08, 0.15))
        stop = 0.4 * _resampled_click(gun, rng, fs)
        slam = _resampled_click(gun, rng, fs)
        gap = int(rng.uniform(0.1, 0.4) * fs)  # held back, then released
        fwd = int(gun.return_stroke_s * fs) or int(0.02 * fs)
        out = np.zeros(pull.size + gap + fwd + slam.size + stop.size)
        out[: pull.size] += pull
        out[pull.size: pull.size + stop.size] += stop
        a = pull.size + gap + fwd
        out[a:a + slam.size] += slam
        return out
    n = int(duration_s * fs)
    times = _event_times(duration_s, rng, (0.6, 1.6))
    return _peak_scene(_place(n, times, [one() for _ in times], fs), times, "slide_rack_noise", rng,
                       float(rng.uniform(0.5, 5.0)), {"gun_of": name})


def dry_fire_noise(duration_s, fs, rng) -> Scene:
    name, gun = _random_gun(rng, ("pistol",))

    def one():
        fall = _resampled_click(gun, rng, fs)
        reset = 0.3 * _modes(fs, rng, 3, (3000, 9000), (0.001, 0.003), 0.02)
        out = np.zeros(fall.size + int(0.3 * fs) + reset.size)
        out[: fall.size] += fall
        k = fall.size + int(rng.uniform(0.05, 0.25) * fs)
        out[k:k + reset.size] += reset
        return out
    n = int(duration_s * fs)
    times = _event_times(duration_s, rng, (0.4, 1.6))
    return _peak_scene(_place(n, times, [one() for _ in times], fs), times, "dry_fire_noise", rng,
                       float(rng.uniform(0.5, 4.0)), {"gun_of": name})


#: surface -> (coefficient of restitution, ring decay of the case in s, low-pass Hz)
SURFACES = {"concrete": (0.55, 0.02, 20000.0), "wood": (0.4, 0.008, 9000.0),
            "gravel": (0.25, 0.004, 12000.0), "grass": (0.1, 0.002, 3000.0)}


def case_bounces(fs: int, rng: np.random.Generator, surface: str, f1_hz: float) -> np.ndarray:
    """One case dropped from 1-1.5 m: impacts ringing the case's modes, each bounce e times slower
    (flight time 2 v / g) and e times weaker than the one before, low-passed by the surface."""
    e, decay, lowpass = SURFACES[surface]
    v = math.sqrt(2 * 9.81 * rng.uniform(1.0, 1.5))
    out = np.zeros(int(1.5 * fs))
    t_hit, amp = 0.0, 1.0
    while amp >= 0.01 and int(t_hit * fs) < out.size:
        ring = _modes(fs, rng, 3, (f1_hz, min(2.8 * f1_hz, 0.45 * fs)), (0.5 * decay, decay), 5 * decay + 0.002)
        k = int(t_hit * fs)
        out[k:k + ring.size] += amp * ring[: out.size - k]
        t_hit += 2 * e * v / 9.81  # flight time to the next bounce
        v, amp = v * e, amp * e
    return signal.sosfilt(_sos("low", min(lowpass, 0.45 * fs), fs), out)


def case_drop_noise(duration_s, fs, rng) -> Scene:
    surface = str(rng.choice(list(SURFACES)))
    f1 = rng.uniform(4000, 8000) if rng.random() < 0.5 else rng.uniform(2500, 5000)  # pistol or rifle case
    n = int(duration_s * fs)
    times = _event_times(duration_s, rng, (0.3, 1.4))
    return _peak_scene(_place(n, times, [case_bounces(fs, rng, surface, f1) for _ in times], fs), times,
                       "case_drop_noise", rng, float(rng.uniform(0.5, 4.0)), {"surface": surface})


# --------------------------------------------------------------------------- impulsive confusers
def nail_gun(duration_s, fs, rng) -> Scene:
    def one():
        board = _modes(fs, rng, 6, (300, 2000), (0.01, 0.03), 0.15)
        board[: int(0.001 * fs)] += 2 * rng.standard_normal(int(0.001 * fs))
        puff = _band(rng.standard_normal(int(0.05 * fs)), 2000, 8000, fs) * np.hanning(int(0.05 * fs))
        board[int(0.02 * fs): int(0.02 * fs) + puff.size] += 0.3 * _norm(puff)
        return board
    return _impulsive_peak(duration_s, fs, rng, one, "nail_gun", float(rng.uniform(2, 30)), (0.4, 1.5))


def construction_impact_noise(duration_s, fs, rng) -> Scene:
    def one():
        w = _modes(fs, rng, 8, (100, 1500), (0.05, 0.3), 1.0)
        w[: int(0.002 * fs)] += rng.standard_normal(int(0.002 * fs))
        return w
    distance = float(rng.uniform(10, 80))
    return _impulsive_peak(duration_s, fs, rng, one, "construction_impact_noise", distance, (0.5, 1.6))


def lid_slam_noise(duration_s, fs, rng) -> Scene:
    def one():
        panel = _modes(fs, rng, 6, (50, 300), (0.02, 0.08), 0.4)
        k = int(12 * 0.005 * fs)
        panel[:k] += 0.6 * friedlander(np.arange(k) / fs, 1.0, rng.uniform(0.002, 0.005))  # expelled air
        rattle = _modes(fs, rng, 4, (1500, 5000), (0.002, 0.006), 0.03)
        a = int(rng.uniform(0.02, 0.06) * fs)
        panel[a:a + rattle.size] += 0.3 * rattle
        return panel
    return _impulsive_peak(duration_s, fs, rng, one, "lid_slam_noise", float(rng.uniform(2, 30)), (0.6, 1.6))


def sports_ball_noise(duration_s, fs, rng) -> Scene:
    sport = str(rng.choice(["basketball", "tennis"]))
    f = rng.uniform(350, 800) if sport == "basketball" else rng.uniform(900, 1500)

    def one():
        w = _modes(fs, rng, 3, (0.9 * f, 1.1 * f), (0.01, 0.03), 0.12)
        thud = signal.sosfilt(_sos("low", 400, fs), rng.standard_normal(int(0.01 * fs)))
        w[: thud.size] += 2 * _norm(thud)
        return w
    gaps = (0.4, 0.7) if sport == "basketball" else (0.8, 1.6)
    distance = float(rng.uniform(2, 30))
    return _impulsive_peak(duration_s, fs, rng, one, "sports_ball_noise", distance, gaps, {"sport": sport})


def _impulsive_peak(duration_s, fs, rng, make, kind, distance_m, gaps, info=None) -> Scene:
    scene = _impulsive(duration_s, fs, rng, make, distance_m, gaps)
    return _peak_scene(scene.pressure_pa, scene.event_times_s, kind, rng, distance_m, info)


def thunder(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    x = np.zeros(n)
    t = rng.uniform(-3.0, 0.5)
    while t < duration_s:
        m = int(rng.uniform(2.0, 8.0) * fs)
        peaks = np.interp(np.arange(m), np.sort(rng.integers(0, m, 12)), rng.lognormal(0, 0.8, 12))
        env = peaks * np.exp(-np.arange(m) / (0.4 * m))  # rolling peaks as the channel's parts arrive
        strike = signal.sosfilt(_sos("bandpass", (20, 250), fs), rng.standard_normal(m)) * env
        a = int(t * fs)
        lo, hi = max(a, 0), min(n, a + m)
        if hi > lo:
            x[lo:hi] += strike[lo - a: hi - a] * rng.uniform(0.3, 1.0)
        t += rng.uniform(1.0, 4.0)
    x = x / (np.std(x) or 1.0) + 0.2 * scenes.rain(duration_s, fs, rng).pressure_pa / scenes._pa(60)
    return _rms_mic(x, "thunder", rng)


# --------------------------------------------------------------------------- quiet ambiences
def ambience_car_park(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    traffic = scenes.street(duration_s, fs, rng).pressure_pa
    traffic = signal.sosfilt(_sos("low", 1000, fs), traffic)  # distant: high frequencies absorbed, screened
    doors = scenes.door_slam(duration_s, fs, rng).pressure_pa * 0.02  # far, occasional
    t = np.arange(n) / fs
    fan = np.sin(2 * np.pi * rng.uniform(40, 120) * t) + signal.sosfilt(_sos("low", 300, fs), rng.standard_normal(n))
    x = traffic / (np.std(traffic) or 1.0) + 0.5 * fan + doors / (np.std(doors) or 1.0) * 0.3
    return _rms_mic(x, "ambience_car_park", rng)


def ambience_square(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    babble = _resample(scenes.voices(duration_s, rng, int(rng.integers(10, 30))), scenes.VOICE_RATE, fs, n)
    traffic = signal.sosfilt(_sos("low", 800, fs), scenes.street(duration_s, fs, rng).pressure_pa)
    birds = np.zeros(n)
    for t0 in _event_times(duration_s, rng, (0.3, 1.5)):
        m = int(rng.uniform(0.05, 0.15) * fs)
        tt = np.arange(m) / fs
        f = rng.uniform(2000, 5000) + rng.uniform(-1500, 1500) * tt / tt[-1]
        chirp = np.sin(2 * np.pi * np.cumsum(f) / fs) * np.hanning(m)
        birds[int(t0 * fs): int(t0 * fs) + m] += chirp[: n - int(t0 * fs)] if int(t0 * fs) < n else 0
    x = babble + traffic / (np.std(traffic) or 1.0) + 0.3 * birds
    return _rms_mic(x, "ambience_square", rng)


def ambience_office(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    hvac = signal.sosfilt(_sos("low", 500, fs, 1), rng.standard_normal(n))  # NC-35..40-like rumble
    keys = np.zeros(n)
    for t0 in _event_times(duration_s, rng, (0.08, 0.3)):
        k = int(0.004 * fs)
        a = int(t0 * fs)
        keys[a:a + k] += _band(rng.standard_normal(k), 2000, 5000, fs)[: n - a] * rng.uniform(0.5, 1.0)
    speech = _resample(scenes.voices(duration_s, rng, 2), scenes.VOICE_RATE, fs, n)
    speech = signal.sosfilt(_sos("low", 1500, fs), speech)  # through a partition
    x = hvac / (np.std(hvac) or 1.0) + 0.3 * keys / (np.std(keys) or 1.0) + 0.5 * speech
    return _rms_mic(x, "ambience_office", rng)


SCENES = {
    "air_conditioner": air_conditioner, "car_horn": car_horn, "children_playing": children_playing,
    "dog_bark": dog_bark, "drilling": drilling, "engine_idling": engine_idling, "jackhammer": jackhammer,
    "siren": siren, "street_music": street_music, "magazine_noise": magazine_noise,
    "slide_rack_noise": slide_rack_noise, "dry_fire_noise": dry_fire_noise, "case_drop_noise": case_drop_noise,
    "nail_gun": nail_gun,
    "construction_impact_noise": construction_impact_noise, "lid_slam_noise": lid_slam_noise, "thunder": thunder,
    "sports_ball_noise": sports_ball_noise, "ambience_car_park": ambience_car_park, "ambience_square": ambience_square,
    "ambience_office": ambience_office,
}
_STREET, _RANGE, _OPEN, _FOREST = "street_canyon", "indoor_range", "open_field", "forest"
SCENE_ENVIRONMENTS = {
    "air_conditioner": (_STREET, _OPEN), "car_horn": (_STREET,), "children_playing": (_STREET, _OPEN),
    "dog_bark": (_STREET, _OPEN, _FOREST), "drilling": (_RANGE, _STREET), "engine_idling": (_STREET, _OPEN),
    "jackhammer": (_STREET,), "siren": (_STREET, _OPEN), "street_music": (_STREET,),
    "magazine_noise": (_RANGE, _OPEN), "slide_rack_noise": (_RANGE, _OPEN), "dry_fire_noise": (_RANGE, _OPEN),
    "case_drop_noise": (_RANGE, _OPEN), "nail_gun": (_RANGE, _STREET, _OPEN),
    "construction_impact_noise": (_STREET, _OPEN),
    "lid_slam_noise": (_STREET,), "thunder": (_OPEN, _FOREST, _STREET), "sports_ball_noise": (_RANGE, _OPEN, _STREET),
    "ambience_car_park": (_RANGE, _STREET), "ambience_square": (_STREET,), "ambience_office": (_RANGE,),
}
#: Every background kind the simulator renders: the original scenes and these negatives.
ALL_SCENES = {**scenes.SCENES, **SCENES}
ALL_ENVIRONMENTS = {**scenes.SCENE_ENVIRONMENTS, **SCENE_ENVIRONMENTS}
