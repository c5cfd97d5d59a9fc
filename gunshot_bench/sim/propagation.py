"""The path from source to microphone: spreading, air absorption, ground reflection, reverberation.

- Spherical spreading: pressure falls as 1/r from a 1 m reference (used for sources given at 1 m;
  the muzzle blast's Kinney-Graham law already includes it).
- Atmospheric absorption: ISO 9613-1:1993 pure-tone attenuation coefficient (oxygen and
  nitrogen relaxation plus classical absorption), applied as a zero-phase frequency response
  exp(-alpha(f) r) over the path length.
- Ground reflection: the image source below the ground, delayed by the path difference and
  filtered by the plane-wave reflection coefficient R = (Z cos(phi) - 1) / (Z cos(phi) + 1) of a
  surface whose normalised impedance Z follows Delany & Bazley (1970) for its flow resistivity
  (grass 200 kPa s/m^2, forest floor 40, asphalt/concrete ~ rigid; Embleton, Piercy & Daigle 1983).
- Reverberation: a synthetic impulse response of discrete early reflections (walls, facades,
  tree lines) and an exponentially decaying noise tail with the environment's RT60 (the high band
  decays twice as fast: air and foliage absorption), scaled so that direct and reverberant
  energy are equal at the critical distance r_c = 0.057 sqrt(V / RT60) (Sabine/Kuttruff); for
  outdoor spaces r_c is an effective value. RT60 ranges: indoor ranges 0.3-1.2 s, street canyons
  0.8-2 s (Kang 2000, JASA 107:1394), forests 1-2 s at low level (Padgham 2004, JASA 115:402),
  open fields a weak 0.2-0.6 s tail with a few distant echoes.

Filtering is done in the frequency domain (one FFT per channel for the whole recording), which is
why these functions return frequency responses rather than filter coefficients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

#: Flow resistivity of ground surfaces, Pa s / m^2 (Embleton et al. 1983; Attenborough 1988).
GROUND_FLOW_RESISTIVITY = {"grass": 2.0e5, "forest_floor": 4.0e4, "asphalt": 2.0e7, "concrete": 2.0e8}

#: Environments: ground surface, RT60 range (s), effective critical distance range (m),
#: number of early reflections and their delay range (s), and their gain range (dB re direct).
ENVIRONMENTS = {
    "open_field": dict(ground="grass", rt60_s=(0.2, 0.6), critical_m=(150.0, 400.0),
                       n_early=(0, 2), early_s=(0.08, 0.9), early_db=(-28.0, -14.0)),
    "street_canyon": dict(ground="asphalt", rt60_s=(0.8, 2.0), critical_m=(10.0, 20.0),
                          n_early=(4, 10), early_s=(0.03, 0.09), early_db=(-10.0, -4.0)),
    "indoor_range": dict(ground="concrete", rt60_s=(0.3, 1.2), critical_m=(2.5, 6.0),
                         n_early=(6, 14), early_s=(0.003, 0.04), early_db=(-9.0, -3.0)),
    "forest": dict(ground="forest_floor", rt60_s=(1.0, 2.0), critical_m=(15.0, 30.0),
                   n_early=(5, 15), early_s=(0.01, 0.15), early_db=(-24.0, -12.0)),
}


def iso9613_alpha_db_per_m(freq_hz: np.ndarray, temperature_c: float = 20.0,
                           humidity_pct: float = 50.0, pressure_kpa: float = 101.325) -> np.ndarray:
    """Pure-tone atmospheric absorption coefficient in dB/m (ISO 9613-1:1993, eqs. 3-5 and B.1)."""
    f = np.asarray(freq_hz, dtype=float)
    pr, t0, t01 = 101.325, 293.15, 273.16
    t = temperature_c + 273.15
    psat_ratio = 10 ** (-6.8346 * (t01 / t) ** 1.261 + 4.6151)
    h = humidity_pct * psat_ratio * pr / pressure_kpa
    fro = pressure_kpa / pr * (24 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    frn = pressure_kpa / pr * (t / t0) ** -0.5 * (9 + 280 * h * math.exp(-4.170 * ((t / t0) ** (-1 / 3) - 1)))
    return 8.686 * f**2 * (1.84e-11 * (pr / pressure_kpa) * (t / t0) ** 0.5 + (t / t0) ** -2.5 * (
        0.01275 * math.exp(-2239.1 / t) / (fro + f**2 / fro)
        + 0.1068 * math.exp(-3352.0 / t) / (frn + f**2 / frn)))


def _smooth(freq_hz: np.ndarray, fn) -> np.ndarray:
    """`fn` of a smooth response evaluated on a 1/48-octave grid and interpolated to `freq_hz`
    (the FFT grids here hold millions of bins; these responses vary slowly with frequency)."""
    f = np.asarray(freq_hz, dtype=float)
    top = max(float(f.max()), 20.0)
    grid = np.concatenate([[0.0], np.geomspace(1.0, top, int(48 * np.log2(top)) + 2)])
    values = fn(grid)
    if np.iscomplexobj(values):
        return np.interp(f, grid, values.real) + 1j * np.interp(f, grid, values.imag)
    return np.interp(f, grid, values)


def absorption_response(freq_hz: np.ndarray, path_m: float, temperature_c: float,
                        humidity_pct: float) -> np.ndarray:
    """Zero-phase amplitude response of `path_m` of air."""
    return _smooth(freq_hz, lambda f: 10 ** (-iso9613_alpha_db_per_m(f, temperature_c, humidity_pct) * path_m / 20.0))


def spherical_spreading(distance_m: float, reference_m: float = 1.0) -> float:
    """Pressure ratio for spherical spreading from `reference_m` to `distance_m`."""
    if distance_m <= 0:
        raise ValueError(f"distance must be positive, got {distance_m} m")
    return reference_m / max(distance_m, reference_m * 1e-3)


def delany_bazley_impedance(freq_hz: np.ndarray, flow_resistivity: float) -> np.ndarray:
    """Normalised surface impedance of a porous ground (Delany & Bazley 1970; e^{+jwt} convention)."""
    x = np.clip(1.2 * np.asarray(freq_hz, dtype=float) / flow_resistivity, 1e-5, None)
    return 1.0 + 0.0571 * x**-0.754 - 1j * 0.087 * x**-0.732


def ground_reflection_response(freq_hz: np.ndarray, distance_m: float, source_height_m: float,
                               mic_height_m: float, ground: str, c_mps: float) -> tuple[np.ndarray, float]:
    """Frequency response of direct + ground-reflected sound, relative to the direct sound alone.

    Returns the response and the reflection's delay in seconds.
    """
    horizontal = math.sqrt(max(distance_m**2 - (source_height_m - mic_height_m) ** 2, 1e-6))
    direct = math.hypot(horizontal, source_height_m - mic_height_m)
    reflected = math.hypot(horizontal, source_height_m + mic_height_m)
    cos_incidence = (source_height_m + mic_height_m) / reflected
    def coefficient(f):
        z = delany_bazley_impedance(f, GROUND_FLOW_RESISTIVITY[ground])
        return (z * cos_incidence - 1.0) / (z * cos_incidence + 1.0)
    r_coef = _smooth(freq_hz, coefficient)
    delay = (reflected - direct) / c_mps
    phase = np.asarray(freq_hz, dtype=np.float32) * np.float32(-2 * np.pi * delay)
    response = 1.0 + (r_coef * (direct / reflected)).astype(np.complex64) * np.exp(1j * phase)
    return response, delay


def ground_reflection_kernel(distance_m: float, source_height_m: float, mic_height_m: float,
                             ground: str, c_mps: float, sample_rate: int) -> np.ndarray:
    """Impulse response of direct sound (a unit impulse at 0) plus its ground reflection.

    Computed on a short FFT grid and added to the room impulse response, so the long recording
    is filtered once; the (diffuse) reverberant tail is not reflected a second time.
    """
    _, delay = ground_reflection_response(np.zeros(1), distance_m, source_height_m, mic_height_m, ground, c_mps)
    nfft = int(2 ** math.ceil(math.log2(delay * sample_rate + 2048)))
    freqs = np.fft.rfftfreq(nfft, 1.0 / sample_rate)
    response, _ = ground_reflection_response(freqs, distance_m, source_height_m, mic_height_m, ground, c_mps)
    # Centre the non-causal part of the reflection filter 256 samples after the delay... by
    # shifting the whole kernel 256 samples late and dropping them again after the inverse FFT.
    shift = np.exp(-2j * np.pi * freqs * 256 / sample_rate)
    kernel = np.fft.irfft(response * shift, nfft)
    return kernel[256:]


@dataclass(frozen=True)
class Room:
    """Drawn reverberation parameters of one recording."""

    environment: str
    rt60_s: float
    critical_distance_m: float
    early_delays_s: tuple[float, ...]
    early_gains_db: tuple[float, ...]

    def __post_init__(self):
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"unknown environment '{self.environment}'; known: {sorted(ENVIRONMENTS)}")
        if not 0.05 <= self.rt60_s <= 5.0:
            raise ValueError(f"RT60 {self.rt60_s} s outside 0.05-5 s")


def draw_room(environment: str, rng: np.random.Generator) -> Room:
    """Reverberation parameters drawn from the environment's ranges (see ENVIRONMENTS)."""
    spec = ENVIRONMENTS[environment]
    n = int(rng.integers(spec["n_early"][0], spec["n_early"][1] + 1))
    if environment == "street_canyon":
        # Flutter echoes between parallel facades: multiples of the crossing time, each weaker.
        period = rng.uniform(*spec["early_s"])
        delays = tuple(float(period * (k + 1) * rng.uniform(0.97, 1.03)) for k in range(n))
        gains = tuple(float(rng.uniform(*spec["early_db"]) - 2.5 * k) for k in range(n))
    else:
        delays = tuple(float(v) for v in np.sort(rng.uniform(*spec["early_s"], n)))
        gains = tuple(float(v) for v in rng.uniform(*spec["early_db"], n))
    return Room(environment, float(rng.uniform(*spec["rt60_s"])), float(rng.uniform(*spec["critical_m"])),
                delays, gains)


def ir_length(room: Room, sample_rate: int) -> int:
    """Samples of the room impulse response: 1.3 RT60 (a 78 dB decay of the low band), at most 3 s."""
    return int(min(1.3 * room.rt60_s, 3.0) * sample_rate)


def room_impulse_response(room: Room, distance_m: float, sample_rate: int,
                          rng: np.random.Generator) -> np.ndarray:
    """Impulse response: direct impulse (1.0), early reflections, decaying two-band noise tail.

    The tail holds (r / r_c)^2 of the direct energy (capped at 4 for outdoor spaces, whose
    reverberation is not a diffuse field), so reverberation grows with distance as it does.
    """
    length = ir_length(room, sample_rate)
    ir = np.zeros(length)
    ir[0] = 1.0
    for delay, gain_db in zip(room.early_delays_s, room.early_gains_db):
        k = int(delay * sample_rate)
        if 0 < k < length:
            ir[k] += rng.choice([-1.0, 1.0]) * 10 ** (gain_db / 20.0)
    start = int(0.002 * sample_rate)
    t = np.arange(length - start) / sample_rate
    split = min(2000.0, 0.4 * sample_rate)
    low = signal.sosfilt(signal.butter(2, split, "low", fs=sample_rate, output="sos"), rng.standard_normal(t.size))
    high = signal.sosfilt(signal.butter(2, split, "high", fs=sample_rate, output="sos"), rng.standard_normal(t.size))
    onset = 1.0 - np.exp(-t / 0.005)  # diffuse energy builds up over a few ms
    tail = onset * (low * np.exp(-6.91 * t / room.rt60_s) + high * np.exp(-13.8 * t / room.rt60_s))
    ratio = (distance_m / room.critical_distance_m) ** 2
    if room.environment != "indoor_range":
        ratio = min(ratio, 4.0)
    tail *= math.sqrt(ratio / max(float(np.sum(tail**2)), 1e-12))
    ir[start:] += tail
    return ir
