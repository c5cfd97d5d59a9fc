"""The firearm as a sound source: muzzle blast, ballistic N-wave, action noise, firing schedule.

Every figure comes from the model's physical facts in the taxonomy (charge, muzzle velocity,
barrel length, projectile, action, cyclic rate) through published scaling laws:

- Muzzle blast: a Friedlander wave p(t) = Ps (1 - t/Td) exp(-A t/Td) (Friedlander 1946), whose
  peak Ps and positive-phase duration Td follow the Kinney & Graham (1985, "Explosive Shocks in
  Air", 2nd ed.) fits of peak overpressure and duration against the scaled distance
  Z = R / W^(1/3) (Hopkinson-Cranz scaling). W is the TNT equivalent of the gas energy left at
  the muzzle: propellant energy minus projectile kinetic energy minus heat lost to the barrel
  (the energy balance of Carlucci & Jacobson, "Ballistics", 2008, ch. 4). The muzzle gas takes
  about the barrel's blow-down time L / c_gas to leave, which lengthens Td for long barrels.
  Directivity: strongest forward, about 15 dB weaker behind the muzzle (Maher 2007; Beck et al.
  2011, JASA 129:1748).
- N-wave of a supersonic projectile (Whitham 1952, as used by Maher 2007, IEEE SAFE):
  peak dp = 0.53 p0 (M^2-1)^(1/8) d / (b^(3/4) l^(1/4)) and duration
  T = 1.82 M b^(1/4) d / (c (M^2-1)^(3/8) l^(1/4)) for miss distance b, diameter d, length l.
  It reaches a microphone only inside the Mach cone's field (angle from the line of fire below
  90 deg - asin(1/M)) and only where the projectile is still supersonic (drag deceleration
  v(s) = v0 exp(-s / L_drag)); there it arrives AHEAD of the blast.
- Action noise: each model's mechanical signature is in `sim.mechanism`; `ClickBank` here renders
  the generic impacts (spent cases hitting the ground). Levels are assumptions, stated in
  docs/simulator.md.
- Firing schedule: automatic fire at the model's cyclic rate with a few % shot-to-shot jitter;
  semi-automatic strings at human rates (0.2-1 s splits), pump and revolver slower.

All functions are pure: arrays and a numpy Generator in, arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

P0_PA = 101_325.0
GRAIN_KG = 6.479891e-5
#: Heat of explosion of single/double-base smokeless powder, J/kg (Carlucci & Jacobson 2008: 3.2-5 MJ/kg).
PROPELLANT_J_PER_KG = 3.7e6
TNT_J_PER_KG = 4.184e6
#: Share of propellant energy lost as heat to the barrel (Carlucci & Jacobson 2008, energy balance: ~20%).
BARREL_HEAT_FRACTION = 0.20
#: Sound speed of hot propellant gas at the muzzle (~1000 K), m/s: sets the barrel blow-down time.
MUZZLE_GAS_SOUND_SPEED_MPS = 900.0
#: Friedlander decay constant A; 1-2 for weak blast waves (Kinney & Graham 1985).
FRIEDLANDER_DECAY = 1.3
#: Drag coefficient of a supersonic small-arms projectile (G7-type spitzer ~0.3, round nose ~0.4).
DRAG_COEFFICIENT = 0.35
AIR_DENSITY_KG_M3 = 1.2
#: Effective density of a jacketed bullet over its full cylinder (ogive and boat-tail included),
#: g/cm^3; fits M855 (4.0 g, 23 mm), M43 7.62x39 (7.9 g, 26.8 mm), 9 mm FMJ (8.0 g, 15.6 mm).
BULLET_FILL_DENSITY_G_CM3 = 7.0
#: Internal synthesis rate of the short source waveforms; resampled (soxr) to the recording rate.
SOURCE_RATE = 96_000


def speed_of_sound_mps(temperature_c: float) -> float:
    """Speed of sound in dry air: c = 331.3 sqrt(1 + T/273.15) (ISO 9613-1 uses the same law)."""
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)


@dataclass(frozen=True)
class GunAcoustics:
    """The physical facts of one firearm model that set its sound, in SI units.

    Built from a `taxonomy.FirearmModel` by `gun_acoustics`; `fallbacks` names every value that
    the taxonomy did not provide and was estimated here (documented rule each).
    """

    name: str
    category: str
    muzzle_velocity_mps: float
    barrel_length_m: float
    bullet_diameter_m: float
    bullet_length_m: float
    bullet_mass_kg: float
    charge_kg: float
    action: str
    cyclic_rate_rpm: float | None
    fallbacks: tuple[str, ...] = field(default=())

    def __post_init__(self):
        for name in ("muzzle_velocity_mps", "barrel_length_m", "bullet_diameter_m",
                     "bullet_length_m", "bullet_mass_kg", "charge_kg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{self.name}: {name} must be positive, got {getattr(self, name)}")
        if self.cyclic_rate_rpm is not None and not 100 <= self.cyclic_rate_rpm <= 3000:
            raise ValueError(f"{self.name}: cyclic rate {self.cyclic_rate_rpm} rpm is not plausible")

    @property
    def automatic(self) -> bool:
        return self.cyclic_rate_rpm is not None

    def blast_energy_j(self) -> float:
        """Gas energy left at the muzzle: propellant energy - projectile kinetic energy - barrel heat.

        Floored at 10% of the propellant energy (very efficient long barrels still leave hot gas).
        """
        chemical = self.charge_kg * PROPELLANT_J_PER_KG
        kinetic = 0.5 * self.bullet_mass_kg * self.muzzle_velocity_mps**2
        return max(0.1 * chemical, chemical * (1.0 - BARREL_HEAT_FRACTION) - kinetic)

    def tnt_equivalent_kg(self) -> float:
        return self.blast_energy_j() / TNT_J_PER_KG


def gun_acoustics(model) -> GunAcoustics:
    """The acoustic facts of a `taxonomy.FirearmModel` (or any object with the same attributes).

    The taxonomy has no bullet length; it is estimated from mass and diameter with an effective
    fill density of 7 g/cm^3 (see `BULLET_FILL_DENSITY_G_CM3`). Any other missing value falls
    back to a 9 mm-like figure and is listed in `fallbacks`.
    """
    fallbacks = []

    def get(attr, default):
        value = getattr(model, attr, None)
        if value is None:
            fallbacks.append(attr)
            return default
        return float(value)

    d_mm = get("bullet_diameter_mm", 9.0)
    mass_g = get("bullet_mass_g", 8.0)
    length_mm = getattr(model, "bullet_length_mm", None)
    if length_mm is None:
        area_cm2 = math.pi * (d_mm / 20.0) ** 2
        length_mm = 10.0 * mass_g / (BULLET_FILL_DENSITY_G_CM3 * area_cm2)
        # A shotgun's "mass" is the whole shot charge; a pellet is a sphere.
        if getattr(model, "category", "") == "shotgun":
            length_mm = d_mm
        fallbacks.append("bullet_length_mm (from mass and diameter)")
    action = str(getattr(model, "action", "semi_auto") or "semi_auto")
    rate = getattr(model, "cyclic_rate_rpm", None)
    return GunAcoustics(
        name=str(getattr(model, "name", "unknown")),
        category=str(getattr(model, "category", "")),
        muzzle_velocity_mps=get("muzzle_velocity_mps", 360.0),
        barrel_length_m=get("barrel_length_mm", 110.0) / 1000.0,
        bullet_diameter_m=d_mm / 1000.0,
        bullet_length_m=float(length_mm) / 1000.0,
        bullet_mass_kg=mass_g / 1000.0,
        charge_kg=get("charge_grains", 6.0) * GRAIN_KG,
        action=action,
        cyclic_rate_rpm=float(rate) if rate is not None else None,
        fallbacks=tuple(fallbacks),
    )


# --------------------------------------------------------------------------- muzzle blast
def kinney_graham(scaled_distance: float) -> tuple[float, float]:
    """Peak overpressure ratio Ps/p0 and positive-phase duration per kg^(1/3) (s) at Z (m/kg^(1/3)).

    Kinney & Graham (1985), eqs. for a free-air TNT burst.
    """
    z = max(scaled_distance, 0.05)
    ps = 808.0 * (1 + (z / 4.5) ** 2) / math.sqrt(
        (1 + (z / 0.048) ** 2) * (1 + (z / 0.32) ** 2) * (1 + (z / 1.35) ** 2))
    td_ms = 980.0 * (1 + (z / 0.54) ** 10) / (
        (1 + (z / 0.02) ** 3) * (1 + (z / 0.74) ** 6) * math.sqrt(1 + (z / 6.9) ** 2))
    return ps, td_ms / 1000.0


def blast_parameters(gun: GunAcoustics, distance_m: float, azimuth_deg: float) -> tuple[float, float]:
    """Peak overpressure (Pa) and positive-phase duration (s) of the muzzle blast at the microphone.

    Kinney-Graham at the scaled distance gives the spherical-blast values (1/R spreading built
    in); the barrel blow-down time L / c_gas is added in quadrature to the duration; the
    directivity lowers the peak by up to 15 dB behind the muzzle.
    """
    w = gun.tnt_equivalent_kg()
    root = w ** (1.0 / 3.0)
    ps_ratio, td_scaled = kinney_graham(distance_m / root)
    blowdown_s = gun.barrel_length_m / MUZZLE_GAS_SOUND_SPEED_MPS
    td = math.hypot(td_scaled * root, blowdown_s)
    directivity_db = -15.0 * (1.0 - math.cos(math.radians(azimuth_deg))) / 2.0
    return ps_ratio * P0_PA * 10 ** (directivity_db / 20.0), td


def friedlander(t_s: np.ndarray, peak_pa: float, duration_s: float,
                decay: float = FRIEDLANDER_DECAY) -> np.ndarray:
    """Friedlander waveform (zero before t=0); its negative phase follows the positive one."""
    x = np.clip(t_s, 0.0, None) / duration_s
    out = peak_pa * (1.0 - x) * np.exp(-decay * x)
    out[t_s < 0] = 0.0
    return out


def blast_waveform(peak_pa: float, duration_s: float, sample_rate: int = SOURCE_RATE) -> np.ndarray:
    """A muzzle blast sampled at `sample_rate`, long enough (12 Td) for the negative phase to end.

    The shock front is smoothed over 2 samples at 96 kHz (~20 us), of the order of the rise time
    of weak shocks in turbulent air.
    """
    n = max(8, int(12 * duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    wave = friedlander(t, peak_pa, duration_s)
    wave[0] *= 0.5
    return wave


# --------------------------------------------------------------------------- ballistic N-wave
@dataclass(frozen=True)
class ShockArrival:
    """Where and when the projectile's shock reaches the microphone (relative to the shot)."""

    present: bool
    lead_s: float = 0.0          # how long before the blast it arrives
    peak_pa: float = 0.0
    duration_s: float = 0.0
    miss_distance_m: float = 0.0
    path_m: float = 0.0          # acoustic path from the emission point
    mach: float = 0.0            # at the emission point
    reason: str = ""


def shock_arrival(gun: GunAcoustics, distance_m: float, azimuth_deg: float,
                  c_mps: float) -> ShockArrival:
    """The N-wave at a microphone `distance_m` from the muzzle at `azimuth_deg` off the line of fire.

    The projectile decelerates as v(s) = v0 exp(-s/L) with L = 2 m / (rho Cd A). The shock heard
    at the microphone was emitted where the Mach cone's ray meets it: s0 = x - b / sqrt(M(s0)^2-1)
    (x along, b across the trajectory), solved by fixed-point iteration.
    """
    v0 = gun.muzzle_velocity_mps
    if v0 <= c_mps:
        return ShockArrival(False, reason=f"subsonic load ({v0:.0f} m/s <= c = {c_mps:.0f} m/s)")
    theta = math.radians(azimuth_deg)
    x, b = distance_m * math.cos(theta), max(distance_m * math.sin(theta), 1.0)
    area = math.pi * gun.bullet_diameter_m**2 / 4.0
    drag_length = 2.0 * gun.bullet_mass_kg / (AIR_DENSITY_KG_M3 * DRAG_COEFFICIENT * area)
    s0 = x - b / math.sqrt((v0 / c_mps) ** 2 - 1.0)
    for _ in range(30):
        if s0 < 0:
            return ShockArrival(False, reason="microphone outside the Mach cone's field (behind or beside the muzzle)")
        mach = v0 * math.exp(-s0 / drag_length) / c_mps
        if mach <= 1.0:
            return ShockArrival(False, reason="projectile subsonic before passing the microphone")
        new = x - b / math.sqrt(mach * mach - 1.0)
        if abs(new - s0) < 1e-4:
            break
        s0 = new
    mach = v0 * math.exp(-s0 / drag_length) / c_mps
    beta = math.sqrt(mach * mach - 1.0)
    t_emit = drag_length / v0 * (math.exp(s0 / drag_length) - 1.0)
    path = b * mach / beta
    t_shock = t_emit + path / c_mps
    lead = distance_m / c_mps - t_shock
    if lead <= 0:
        return ShockArrival(False, reason="shock arrives after the blast")
    d, length = gun.bullet_diameter_m, gun.bullet_length_m
    peak = 0.53 * P0_PA * beta**0.25 * d / (b**0.75 * length**0.25)
    duration = 1.82 * mach * b**0.25 * d / (c_mps * beta**0.75 * length**0.25)
    return ShockArrival(True, lead, peak, duration, b, path, mach)


def n_wave(peak_pa: float, duration_s: float, sample_rate: int = SOURCE_RATE) -> np.ndarray:
    """The N-wave: a jump to +peak, a linear fall to -peak over `duration_s`, a jump back to 0."""
    n = max(2, int(round(duration_s * sample_rate)))
    return peak_pa * np.linspace(1.0, -1.0, n)


# --------------------------------------------------------------------------- mechanics
def click(rng: np.random.Generator, peak_pa: float, f_lo: float, f_hi: float, decay_s: float,
          n_modes: int = 6, sample_rate: int = SOURCE_RATE) -> np.ndarray:
    """A metallic impact: a few exponentially damped modes plus a 1 ms noise transient."""
    n = int(5 * decay_s * sample_rate)
    t = np.arange(n) / sample_rate
    freqs = rng.uniform(f_lo, f_hi, n_modes)[:, None]
    decays = decay_s * rng.uniform(0.4, 1.0, n_modes)[:, None]
    phases = rng.uniform(0, 2 * np.pi, n_modes)[:, None]
    amps = rng.uniform(0.3, 1.0, n_modes)[:, None]
    wave = (amps * np.exp(-t / decays) * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=0)
    k = min(n, int(0.001 * sample_rate))
    wave[:k] += rng.standard_normal(k) * np.linspace(1.0, 0.0, k)
    return wave * (peak_pa / max(np.abs(wave).max(), 1e-12))


class ClickBank:
    """A few variants of each mechanical sound of one weapon, drawn once per recording.

    One mechanism makes nearly the same sound every cycle; reusing up to `variants` waveforms
    per sound (with a fresh level each time) also keeps long automatic recordings cheap.
    """

    def __init__(self, rng: np.random.Generator, variants: int = 4, path_filter=None):
        self.rng, self.variants, self._bank = rng, variants, {}
        self.path_filter = path_filter  # e.g. the air absorption of the path, applied once per variant

    def get(self, key: str, peak_pa: float, f_lo: float, f_hi: float, decay_s: float, n_modes: int = 6):
        waves = self._bank.setdefault(key, [])
        if len(waves) < self.variants:
            wave = click(self.rng, 1.0, f_lo, f_hi, decay_s, n_modes)
            waves.append(self.path_filter(wave) if self.path_filter else wave)
            wave = waves[-1]
        else:
            wave = waves[int(self.rng.integers(len(waves)))]
        return wave * peak_pa


# --------------------------------------------------------------------------- firing schedule
@dataclass(frozen=True)
class FiringSchedule:
    """Shot times (s) of one recording, how they were grouped, and the drawn rate."""

    times_s: np.ndarray
    mode: str                       # "burst" or "string"
    cyclic_rate_rpm: float | None   # drawn rate of this weapon on this day (None for manual/semi)
    jitter: float                   # relative SD of automatic shot intervals


def firing_schedule(gun: GunAcoustics, duration_s: float, rng: np.random.Generator,
                    first_s: float = 0.05) -> FiringSchedule:
    """Shots over a recording so that no gap between shots reaches 2 s (every segment holds one).

    Automatic weapons: bursts (machine guns always; others 60% of recordings) of 3-12 rounds at
    the cyclic rate (per recording +-4%: ammunition, gas setting, fouling), each interval with
    1.5% jitter (1-2% measured on real AK-47 and Carl Gustav M45 bursts), truncated at 3 SD.
    Otherwise strings of 1-6 shots with human splits: 0.2-1.0 s (semi-automatic), 0.6-1.2 s (pump, incl. the stroke),
    0.3-1.0 s (revolver). Pauses between strings 0.3-1.3 s.
    """
    burst = gun.automatic and (gun.category == "machine_gun" or rng.random() < 0.6)
    rate = gun.cyclic_rate_rpm * rng.uniform(0.96, 1.04) if burst else None
    jitter = 0.015  # measured 1-2% on real AK-47 and Carl Gustav M45 bursts (docs/simulator.md)
    split = {"pump": (0.6, 1.2), "revolver": (0.3, 1.0), "bolt": (1.0, 1.6)}.get(gun.action, (0.2, 1.0))
    times = []
    t = first_s + rng.uniform(0.0, 0.5)
    end = duration_s - 0.08
    while t < end:
        if burst:
            n = int(rng.integers(4, 13) if gun.category == "machine_gun" else rng.integers(3, 9))
            # Gaussian jitter truncated at 3 SD: a mechanism's cycle time has bounded spread.
            gaps = 60.0 / rate * (1.0 + jitter * np.clip(rng.standard_normal(n - 1), -3.0, 3.0))
        else:
            n = int(rng.integers(1, 7))
            gaps = rng.uniform(*split, n - 1)
        shots = t + np.concatenate([[0.0], np.cumsum(gaps)])
        times.extend(shots[shots < end])
        t = shots[-1] + rng.uniform(0.3, 1.3) + (0.0 if gun.action != "pump" else 0.4)
    return FiringSchedule(np.asarray(times, dtype=float), "burst" if burst else "string", rate, jitter)
