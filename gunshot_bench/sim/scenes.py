"""Background scenes and impulsive confusers, as sound pressure at the microphone or at 1 m.

Ambient scenes (pressure at the microphone, level in dB SPL drawn per recording):
- crowd: 6-30 talkers, each with its own F0 contour (male ~85-155 Hz, female ~165-255 Hz),
  syllable rhythm (4-6 syllables/s in runs of 1-4 s with pauses), vowel formants of Peterson &
  Barney (1952) and fricative noise at syllable onsets; 55-75 dB SPL (busy public spaces).
- scream: screams (F0 300-900 Hz, open vowel, roughness amplitude modulation at 30-150 Hz: Arnal
  et al. 2015, Curr. Biol. 25:2051) over a crowd; 70-95 dB SPL.
- street: traffic rumble, passing cars (engine firing harmonics 30-100 Hz with Doppler shift,
  tyre/road noise around 1 kHz: Sandberg & Ejsmont 2002) and occasional horns; 60-75 dB SPL.
- wind: turbulence at an unshielded microphone, energy below a few hundred Hz, gusts; 55-85 dB SPL.
- rain: Poisson drop impacts (hundreds to thousands per second) on a hiss; 45-70 dB SPL.
- music: a loudspeaker playing chords, bass, kick, snare and hi-hat at 80-140 bpm; 60-85 dB SPL.

Impulsive confusers (source waveform at 1 m, then propagated like a gunshot from `distance_m`):
fireworks (shell bursts as Kinney-Graham blasts of 20-200 g TNT-equivalent at 60-400 m, crackle,
launch whistles), door slams (door-panel bending modes 40-250 Hz + frame click), balloon pops
(1-2 ms N-shaped release, 130-150 dB at 1 m), plastic-bag pops, hand claps (noise burst through a
0.8-2.5 kHz cupped-hand resonance: Repp 1987, JASA 81:1100), hammering (impact + 1-4 kHz ringing
at 1.5-3 blows/s) and car backfires (exhaust-pipe explosion: 1-5 ms blast + 40-120 Hz pipe ring).
Events repeat with gaps under 1.7 s so that every 2 s segment holds at least one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import soxr
from scipy import signal

from gunshot_bench.sim.firearm import friedlander, kinney_graham, P0_PA

VOICE_RATE = 16_000
#: Formants F1-F3 (Hz) of adult male vowels /i e a o u/ (Peterson & Barney 1952); female x1.17.
VOWEL_FORMANTS = np.array([[270, 2290, 3010], [530, 1840, 2480], [730, 1090, 2440],
                           [570, 840, 2410], [300, 870, 2240]], dtype=float)


@dataclass(frozen=True)
class Scene:
    """A generated background: pressure signal, event onsets, and whether it is a point source."""

    pressure_pa: np.ndarray
    event_times_s: tuple[float, ...] = ()
    distance_m: float | None = None  # None: already the level at the microphone
    info: dict = field(default_factory=dict, compare=False)


def _pa(spl_db: float) -> float:
    return 20e-6 * 10 ** (spl_db / 20.0)


def _to_rms(x: np.ndarray, spl_db: float) -> np.ndarray:
    rms = math.sqrt(float(np.mean(x**2))) or 1.0
    return x * (_pa(spl_db) / rms)


@functools.lru_cache(maxsize=256)
def _sos(kind, freq, fs, order=2):
    return signal.butter(order, freq, kind, fs=fs, output="sos")


def _event_times(duration_s: float, rng: np.random.Generator, gap_s=(0.3, 1.6)) -> np.ndarray:
    """Onsets from 0.05-0.5 s to the end with gaps in `gap_s` (< 2 s: every segment gets one)."""
    times, t = [], rng.uniform(0.05, 0.5)
    while t < duration_s - 0.1:
        times.append(t)
        t += rng.uniform(*gap_s)
    return np.asarray(times)


def _place(n: int, times_s, waves, fs: int) -> np.ndarray:
    out = np.zeros(n)
    for t, w in zip(times_s, waves):
        k = int(round(t * fs))
        if 0 <= k < n:
            m = min(w.size, n - k)
            out[k:k + m] += w[:m]
    return out


def _resample(x: np.ndarray, rate_in: int, rate_out: int, n_out: int) -> np.ndarray:
    y = x if rate_in == rate_out else soxr.resample(x, rate_in, rate_out)
    return y[:n_out] if y.size >= n_out else np.pad(y, (0, n_out - y.size))


# --------------------------------------------------------------------------- voices
def voices(duration_s: float, rng: np.random.Generator, n_voices: int, f0_hz=(85.0, 255.0),
           scream: bool = False) -> np.ndarray:
    """Babble of `n_voices` talkers (or screams) at VOICE_RATE, unit RMS.

    Voices are grouped by (sex, vowel): each group's excitation (glottal sawtooth x syllable
    envelope) is filtered once by that vowel's three formant resonators, which keeps the cost at
    10 filter banks however many talkers there are.
    """
    fs, n = VOICE_RATE, int(duration_s * VOICE_RATE)
    t = np.arange(n) / fs
    groups = np.zeros((2, len(VOWEL_FORMANTS), n))
    fric = np.zeros(n)
    for _ in range(n_voices):
        female = rng.random() < 0.5
        f0 = rng.uniform(*f0_hz) if scream else (rng.uniform(165, 255) if female else rng.uniform(85, 155))
        # Intonation: slow random contour +-15% and declination over each breath group.
        knots = rng.normal(0, 0.08 if not scream else 0.15, int(duration_s * 3) + 2)
        contour = np.interp(t, np.linspace(0, duration_s, knots.size), knots)
        f0_t = f0 * np.exp(contour) * (1 + 0.01 * rng.standard_normal(n))
        phase = np.cumsum(f0_t) / fs + rng.random()
        source = 2.0 * (phase % 1.0) - 1.0
        if scream:  # roughness: fast amplitude modulation
            source *= 1 + 0.6 * np.sin(2 * np.pi * rng.uniform(30, 150) * t)
        # Syllables: 4-6 per second in runs, pauses between runs; a vowel per syllable. Each
        # syllable's excitation goes straight into its (sex, vowel) group.
        gain = 1.5 if scream else 1.0
        group = groups[int(female)]
        pos = rng.uniform(0, 0.8)
        while pos < duration_s:
            run_end = pos + (rng.uniform(0.4, 1.6) if scream else rng.uniform(1.0, 4.0))
            while pos < min(run_end, duration_s):
                syl = rng.uniform(0.4, 1.5) if scream else 1.0 / rng.uniform(4.0, 6.0)
                a, b = int(pos * fs), min(n, int((pos + syl) * fs))
                if b > a:
                    v = 2 if scream else int(rng.integers(len(VOWEL_FORMANTS)))
                    group[v, a:b] += np.hanning(b - a) * (rng.uniform(0.5, 1.0) * gain) * source[a:b]
                    c = min(b, a + int(rng.uniform(0.03, 0.08) * fs))
                    if not scream and rng.random() < 0.6:
                        fric[a:c] += rng.uniform(0.1, 0.4)
                pos += syl
            pos = run_end + rng.uniform(0.2, 0.8)
    out = np.zeros(n)
    for sex in range(2):
        scale = 1.17 if sex else 1.0
        for v, formants in enumerate(VOWEL_FORMANTS):
            if not groups[sex, v].any():
                continue
            excitation = signal.sosfilt(_sos("low", 900, fs, 1), groups[sex, v])  # glottal tilt
            for k, f in enumerate(formants * (scale * (1.25 if scream else 1.0))):
                bw = 80.0 + 40 * k
                lo, hi = max(f - bw, 50.0), min(f + bw, 0.49 * fs)
                out += signal.sosfilt(_sos("bandpass", (lo, hi), fs), excitation) * (1.0, 0.5, 0.25)[k]
    out += signal.sosfilt(_sos("high", 3500, fs), rng.standard_normal(n) * fric) * 0.3
    return out / (math.sqrt(float(np.mean(out**2))) or 1.0)


# --------------------------------------------------------------------------- ambient scenes
def crowd(duration_s, fs, rng) -> Scene:
    n_voices = int(rng.integers(6, 31))
    x = _resample(voices(duration_s, rng, n_voices), VOICE_RATE, fs, int(duration_s * fs))
    spl = rng.uniform(55, 75)
    return Scene(_to_rms(x, spl), info={"n_voices": n_voices, "spl_db": spl})


def scream(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    screams = voices(duration_s, rng, int(rng.integers(1, 4)), f0_hz=(300.0, 900.0), scream=True)
    babble = voices(duration_s, rng, int(rng.integers(4, 12)))
    x = _resample(screams + 0.2 * babble, VOICE_RATE, fs, n)
    spl = rng.uniform(70, 95)
    return Scene(_to_rms(x, spl), info={"spl_db": spl})


def street(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    rumble = signal.sosfilt(_sos("low", 400, fs), np.cumsum(rng.standard_normal(n)) * 0.02)
    rumble = signal.sosfilt(_sos("high", 20, fs), rumble)
    x = rumble / (np.std(rumble) or 1.0)
    n_cars = int(rng.integers(1, 4 + int(duration_s / 4)))
    for _ in range(n_cars):
        t0, v, d0 = rng.uniform(-2, duration_s + 2), rng.uniform(8, 20), rng.uniform(3, 15)
        f_fire = rng.uniform(30, 100)
        # Only the +-10 s around the pass-by matter (the car is then > 80 m away).
        a, b = int(max(0.0, t0 - 10) * fs), int(min(duration_s, t0 + 10) * fs)
        if b <= a:
            continue
        tt = t[a:b]
        r = np.sqrt(d0**2 + (v * (tt - t0)) ** 2)
        doppler = 1.0 + v * v * (t0 - tt) / r / 343.0 / v  # 1 + radial speed / c
        phase = (np.cumsum(f_fire * doppler) / fs).astype(np.float32)
        engine = sum(np.sin(2 * np.pi * k * phase) / k for k in range(1, 6))
        tyre = signal.sosfilt(_sos("bandpass", (700, 1500), fs), rng.standard_normal(b - a))
        x[a:b] += (d0 / r) * (1.5 * engine + 3.0 * tyre)
    if rng.random() < 0.3:
        a = int(rng.uniform(0, max(duration_s - 1, 0.1)) * fs)
        b = min(n, a + int(rng.uniform(0.3, 1.0) * fs))
        f = rng.uniform(350, 500)
        x[a:b] += 2.0 * sum(np.sign(np.sin(2 * np.pi * f * r * t[a:b])) / r for r in (1, 1.25))
    spl = rng.uniform(60, 75)
    return Scene(_to_rms(x, spl), info={"n_cars": n_cars, "spl_db": spl})


def wind(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    brown = np.cumsum(rng.standard_normal(n))
    x = signal.sosfilt(_sos("bandpass", (10, rng.uniform(300, 800)), fs), brown)
    knots = rng.lognormal(0, 0.6, int(duration_s * rng.uniform(0.2, 0.6)) + 3)
    gust = np.interp(np.arange(n), np.linspace(0, n, knots.size), knots)
    spl = rng.uniform(55, 85)
    return Scene(_to_rms(x * gust, spl), info={"spl_db": spl})


def rain(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    rate = rng.uniform(200, 3000)
    k = rng.poisson(rate * duration_s)
    drops = np.zeros(n)
    np.add.at(drops, rng.integers(0, n, k), rng.pareto(2.5, k) + 0.1)
    m = int(0.002 * fs)
    kernel = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.0004 * fs))
    x = signal.fftconvolve(drops, kernel)[:n]
    x = signal.sosfilt(_sos("high", 500, fs), x) + 0.3 * signal.sosfilt(
        _sos("bandpass", (1000, min(8000, 0.45 * fs)), fs), rng.standard_normal(n))
    spl = rng.uniform(45, 70)
    return Scene(_to_rms(x, spl), info={"drops_per_s": rate, "spl_db": spl})


def music(duration_s, fs, rng) -> Scene:
    n = int(duration_s * fs)
    bpm = rng.uniform(80, 140)
    beat = 60.0 / bpm
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    chords = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (-3, 0, 4)]
    x = np.zeros(n)
    for i in range(int(duration_s / beat) + 1):
        t0 = i * beat
        a = int(t0 * fs)
        m = min(n - a, int(beat * fs))
        if m <= 0:
            break
        tt = np.arange(m) / fs
        chord = chords[(i // 4) % len(chords)]
        env = np.minimum(tt / 0.01, 1.0) * np.exp(-tt / (0.6 * beat))
        for semis in chord:
            f = 2 * root * 2 ** (semis / 12)
            x[a:a + m] += env * sum(np.sin(2 * np.pi * f * h * tt) / h for h in range(1, 5)) * 0.3
        x[a:a + m] += env * np.sin(2 * np.pi * root / 2 * 2 ** (chord[0] / 12) * tt) * 0.6
        if i % 2 == 0:  # kick: falling sine
            k = min(m, int(0.15 * fs))
            tk = np.arange(k) / fs
            x[a:a + k] += np.sin(2 * np.pi * (50 * tk + 400 * 0.02 * (1 - np.exp(-tk / 0.02)))) * np.exp(-tk / 0.05)
        else:  # snare
            k = min(m, int(0.12 * fs))
            x[a:a + k] += 0.5 * rng.standard_normal(k) * np.exp(-np.arange(k) / (0.03 * fs))
        for half in (0, 1):  # hi-hat eighths
            b = a + int(half * beat / 2 * fs)
            k = min(n - b, int(0.03 * fs))
            if k > 0:
                x[b:b + k] += 0.15 * rng.standard_normal(k) * np.exp(-np.arange(k) / (0.008 * fs))
    x = signal.sosfilt(_sos("bandpass", (80, min(12000, 0.45 * fs)), fs), x)  # loudspeaker
    spl = rng.uniform(60, 85)
    return Scene(_to_rms(x, spl), info={"bpm": bpm, "spl_db": spl})


# --------------------------------------------------------------------------- impulsive confusers
def _modes(fs, rng, n_modes, f_range, decay_range, length_s):
    m = int(length_s * fs)
    t = np.arange(m) / fs
    f = rng.uniform(*f_range, n_modes)[:, None]
    d = rng.uniform(*decay_range, n_modes)[:, None]
    w = (rng.uniform(0.3, 1.0, n_modes)[:, None] * np.exp(-t / d) * np.sin(2 * np.pi * f * t)).sum(0)
    return w / (np.abs(w).max() or 1.0)


def _pop(fs, rng, peak_pa, td_s, noise_ms, noise_band):
    m = int(max(12 * td_s, noise_ms / 1000 * 3) * fs) + 4
    t = np.arange(m) / fs
    w = friedlander(t, 1.0, td_s, decay=rng.uniform(1.0, 2.0))
    k = int(noise_ms / 1000 * fs)
    noise = rng.standard_normal(k) * np.exp(-np.arange(k) / (k / 4 + 1))
    hi = min(noise_band[1], 0.45 * fs)
    w[:k] += 0.15 * signal.sosfilt(_sos("bandpass", (noise_band[0], hi), fs), noise)
    return peak_pa * w


def _impulsive(duration_s, fs, rng, make_event, distance_m, gap_s=(0.3, 1.6)) -> Scene:
    n = int(duration_s * fs)
    times = _event_times(duration_s, rng, gap_s)
    x = _place(n, times, [make_event() for _ in times], fs)
    return Scene(x, tuple(float(t) for t in times), distance_m)


def fireworks(duration_s, fs, rng) -> Scene:
    dist = rng.uniform(60, 400)

    def shell():
        w_kg = rng.uniform(0.02, 0.2)  # TNT equivalent of a consumer/display shell burst charge
        root = w_kg ** (1 / 3)
        _, td_scaled = kinney_graham(dist / root)  # positive phase as heard at the listener
        td_s = td_scaled * root
        # Far-field Kinney-Graham law Ps/p0 ~ 0.827 / Z, referenced back to 1 m (1/r applied later).
        p1m = 0.827 * P0_PA * root
        m = int(12 * td_s * fs) + int(0.6 * fs)
        wave = np.zeros(m)
        k = int(12 * td_s * fs)
        wave[:k] = friedlander(np.arange(k) / fs, p1m, td_s)
        for p in rng.integers(int(0.02 * fs), m - int(0.01 * fs), int(rng.integers(20, 120))):
            w = _pop(fs, rng, p1m * rng.uniform(0.005, 0.03), 0.0003, 1.0, (2000, 12000))
            wave[p:p + w.size] += w[: m - p]
        return wave

    return _impulsive(duration_s, fs, rng, shell, dist, gap_s=(0.4, 1.6))


def door_slam(duration_s, fs, rng) -> Scene:
    def slam():
        body = _modes(fs, rng, 6, (40, 250), (0.03, 0.1), 0.4)
        hit = _modes(fs, rng, 5, (1000, 5000), (0.002, 0.008), 0.05)
        body[: hit.size] += 0.5 * hit
        latch = int(rng.uniform(0.03, 0.08) * fs)
        body[latch: latch + hit.size] += 0.2 * hit[: body.size - latch]
        return _pa(rng.uniform(95, 110)) * body
    return _impulsive(duration_s, fs, rng, slam, rng.uniform(1.5, 12.0), gap_s=(0.6, 1.6))


def balloon_pop(duration_s, fs, rng) -> Scene:
    ev = lambda: _pop(fs, rng, _pa(rng.uniform(130, 150)), rng.uniform(0.0005, 0.0015), 15.0, (500, 8000))
    return _impulsive(duration_s, fs, rng, ev, rng.uniform(1.0, 15.0))


def bag_pop(duration_s, fs, rng) -> Scene:
    ev = lambda: _pop(fs, rng, _pa(rng.uniform(120, 140)), rng.uniform(0.0002, 0.001), 40.0, (2000, 9000))
    return _impulsive(duration_s, fs, rng, ev, rng.uniform(1.0, 10.0))


def clap(duration_s, fs, rng) -> Scene:
    fc, q = rng.uniform(800, 2500), rng.uniform(2, 5)  # one clapper's hand configuration
    sos = _sos("bandpass", (fc * (1 - 0.5 / q), min(fc * (1 + 0.5 / q), 0.45 * fs)), fs)

    def one():
        m = int(0.06 * fs)
        burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (rng.uniform(0.003, 0.008) * fs))
        w = signal.sosfilt(sos, burst)
        return _pa(rng.uniform(100, 115)) * w / (np.abs(w).max() or 1.0)
    return _impulsive(duration_s, fs, rng, one, rng.uniform(1.0, 20.0), gap_s=(0.25, 1.2))


def hammering(duration_s, fs, rng) -> Scene:
    period = 1.0 / rng.uniform(1.5, 3.0)

    def blow():
        ring = _modes(fs, rng, 6, (1000, 4000), (0.02, 0.08), 0.3)
        ring[: int(0.001 * fs)] += rng.standard_normal(int(0.001 * fs))
        return _pa(rng.uniform(100, 120)) * ring / (np.abs(ring).max() or 1.0)
    return _impulsive(duration_s, fs, rng, blow, rng.uniform(2.0, 30.0), gap_s=(0.9 * period, 1.1 * period))


def car_backfire(duration_s, fs, rng) -> Scene:
    def bang():
        td = rng.uniform(0.001, 0.005)
        w = _pop(fs, rng, _pa(rng.uniform(130, 150)), td, 5.0, (200, 3000))
        pipe = _modes(fs, rng, 3, (40, 120), (0.03, 0.08), 0.3) * 0.3 * np.abs(w).max()
        pipe[: w.size] += w
        return pipe
    scene = _impulsive(duration_s, fs, rng, bang, rng.uniform(5.0, 60.0), gap_s=(0.4, 1.6))
    n = scene.pressure_pa.size
    phase = np.cumsum(np.full(n, rng.uniform(25, 40))) / fs
    idle = sum(np.sin(2 * np.pi * k * phase) / k for k in range(1, 5)) * _pa(rng.uniform(85, 95))
    return Scene(scene.pressure_pa + idle, scene.event_times_s, scene.distance_m)


#: kind -> generator(duration_s, sample_rate, rng) -> Scene
SCENES: dict[str, Callable[[float, int, np.random.Generator], Scene]] = {
    "crowd": crowd, "scream": scream, "street": street, "wind": wind, "rain": rain, "music": music,
    "fireworks": fireworks, "door_slam": door_slam, "balloon_pop": balloon_pop, "bag_pop": bag_pop,
    "clap": clap, "hammering": hammering, "car_backfire": car_backfire,
}
#: Which environments each kind is heard in.
SCENE_ENVIRONMENTS = {
    "crowd": ("street_canyon", "open_field", "indoor_range"), "scream": ("street_canyon", "open_field", "indoor_range"),
    "street": ("street_canyon",), "wind": ("open_field", "forest"), "rain": ("street_canyon", "forest", "open_field"),
    "music": ("indoor_range", "street_canyon", "open_field"), "fireworks": ("open_field", "street_canyon"),
    "door_slam": ("indoor_range", "street_canyon"), "balloon_pop": ("indoor_range", "open_field"),
    "bag_pop": ("indoor_range", "street_canyon"), "clap": ("indoor_range", "open_field", "street_canyon"),
    "hammering": ("indoor_range", "street_canyon", "open_field"), "car_backfire": ("street_canyon", "open_field"),
}
