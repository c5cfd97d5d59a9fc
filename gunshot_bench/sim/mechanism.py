"""What makes one firearm model (and one physical gun) sound like itself: action and muzzle device.

The facts come from the taxonomy's `mechanism` entry of each model (moving mass, return-spring
force, stroke, frame material, bolt type, muzzle device, suppressor share); the laws are:

- Mechanical signature. The slide or bolt striking the frame excites the moving part's bending
  modes. A free-free beam's modes stand in the ratios 1 : 2.757 : 5.404 : 8.933 (Euler-Bernoulli;
  Rossing & Fletcher, "Principles of Vibration and Sound", 2004, ch. 2), and geometrically similar
  steel parts scale as f ~ 1/L ~ m^(-1/3). Their decay follows the structure's loss factor eta:
  amplitude time constant 1 / (pi f eta), with eta ~0.01 for built-up steel or aluminium
  structures and ~0.04 for polymer frames (Cremer, Heckl & Petersson, "Structure-Borne Sound",
  2005: 1e-3..1e-2 for joints-dominated metal structures, 1e-2..1e-1 for plastics). The stroke
  times follow the return spring: the forward stroke under a mean force F over travel s takes
  sqrt(2 m s / F), the recoil stroke about half of that. The reference frequency (1.6 kHz for a
  350 g slide) and the loss factors are assumptions stated in docs/simulator.md.
- Open-bolt weapons fire as the bolt closes: the sear release and the bolt's forward run come
  BEFORE the first shot of each burst, and the bolt is caught at the rear after the last.
- Muzzle devices. A brake (compensator) diverts a share of the muzzle gas (35%, 15%: assumed,
  of the order of brakes' 30-60% recoil reduction) sideways (upwards); that share makes its own,
  smaller and therefore shorter and higher-pitched blast (Hopkinson-Cranz scaling) aimed
  sideways (brake) or upwards (compensator); behind the gun, where the bare blast is 15 dB
  down, the jet makes a brake ~9 dB and a compensator ~5 dB louder (assumed jet levels). A flash
  hider changes the flash, not the blast, in this model. A suppressor lowers the blast peak by
  17-28 dB (Paakkonen & Kyttala 1994, Lobarinas et al. 2016, Int. J. Audiol. 55:S59: 17-24 dB
  at the shooter's ear for AR-15 rifles), spreads the gas release over ~3x the time (assumed)
  and leaves the supersonic bullet's N-wave untouched.
- Several physical guns per model: each gun's modes differ by ~2%, its stroke times by ~3%
  (spring wear), its muzzle velocity by ~1.5% and its cyclic rate by ~3% (assumed spreads).

All functions are pure: facts and a numpy Generator in, numbers or arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gunshot_bench.rng import derive_rng
from gunshot_bench.sim.firearm import P0_PA, SOURCE_RATE, GunAcoustics, kinney_graham

#: Free-free beam bending-mode ratios (Euler-Bernoulli).
BEAM_MODE_RATIOS = (1.0, 2.757, 5.404, 8.933)
BEAM_MODE_LEVELS = (1.0, 0.7, 0.5, 0.3)
#: First bending mode of a 350 g steel slide (assumption, see the module docstring).
REFERENCE_MODE_HZ, REFERENCE_MASS_KG = 1600.0, 0.35
#: Loss factors of the structure the moving part strikes (Cremer, Heckl & Petersson 2005).
LOSS_FACTOR = {"steel": 0.010, "aluminium": 0.012, "polymer": 0.040}
#: Share of the muzzle gas energy a device diverts, and the level of that jet behind the muzzle.
DEVICE_SHARE = {"bare": 0.0, "flash_hider": 0.0, "compensator": 0.15, "brake": 0.35}
MUZZLE_DEVICES = tuple(DEVICE_SHARE)
#: Level of the device's jet relative to a blast of the same charge straight ahead (assumed: a
#: brake's side jet from 90 deg backwards, 10 dB less ahead; a compensator's upward jet all round).
#: They make a brake ~9 dB and a compensator ~5 dB louder than a bare muzzle behind the gun.
BRAKE_JET_DB, COMPENSATOR_JET_DB = -6.0, -10.0
#: Rear attenuation of the main blast (Maher 2007; Beck et al. 2011) and of a suppressed one (assumed).
REAR_ATTENUATION_DB, SUPPRESSED_REAR_ATTENUATION_DB = 15.0, 6.0
SUPPRESSION_DB = (17.0, 28.0)
SUPPRESSED_DURATION_FACTOR = 3.0
#: Per-gun spreads (relative SD): modes, stroke times, muzzle velocity, cyclic rate.
GUN_SPREAD = {"mode": 0.02, "stroke": 0.03, "velocity": 0.015, "rate": 0.03}


@dataclass(frozen=True)
class Mechanism:
    """The taxonomy's `mechanism` facts of one model, in SI units."""

    moving_mass_kg: float
    spring_n: float
    stroke_m: float
    frame: str
    bolt: str                 # "closed", "open", "manual" (pump) or "revolver"
    muzzle_device: str
    suppressor_share: float

    def __post_init__(self):
        if self.frame not in LOSS_FACTOR or self.muzzle_device not in DEVICE_SHARE:
            raise ValueError(f"unknown frame {self.frame!r} or muzzle device {self.muzzle_device!r}")
        if not (self.moving_mass_kg > 0 and 0.0 <= self.suppressor_share <= 1.0):
            raise ValueError("moving mass must be positive and the suppressor share in [0, 1]")


def mechanism_of(model) -> Mechanism:
    """The `Mechanism` of a `taxonomy.FirearmModel` (a 9 mm pistol's figures when it has none)."""
    facts = dict(getattr(model, "mechanism", ()) or ())
    return Mechanism(moving_mass_kg=float(facts.get("moving_mass_g", 330.0)) / 1000.0,
                     spring_n=float(facts.get("spring_n", 70.0)), stroke_m=float(facts.get("stroke_mm", 30.0)) / 1000.0,
                     frame=str(facts.get("frame", "steel")), bolt=str(facts.get("bolt", "closed")),
                     muzzle_device=str(facts.get("muzzle_device", "bare")),
                     suppressor_share=float(facts.get("suppressor_share", 0.0)))


@dataclass(frozen=True)
class PhysicalGun:
    """One physical gun of a model: its mode frequencies, decay, stroke times and small offsets."""

    mode_hz: tuple[float, ...]
    loss_factor: float
    recoil_stroke_s: float
    return_stroke_s: float
    velocity_factor: float
    rate_factor: float

    @property
    def cycle_s(self) -> float:
        """Shot to back-in-battery: recoil stroke plus return stroke."""
        return self.recoil_stroke_s + self.return_stroke_s


def nominal_gun(mech: Mechanism) -> PhysicalGun:
    """The model's nominal gun (no per-gun spread)."""
    f1 = REFERENCE_MODE_HZ * (REFERENCE_MASS_KG / mech.moving_mass_kg) ** (1.0 / 3.0)
    if mech.spring_n > 0 and mech.stroke_m > 0:
        # Mean spring force ~0.75 of the full-compression force over the stroke.
        forward = math.sqrt(2.0 * mech.moving_mass_kg * mech.stroke_m / (0.75 * mech.spring_n))
    else:  # manual actions and revolvers: no spring-driven cycle
        forward = 0.0
    return PhysicalGun(tuple(f1 * r for r in BEAM_MODE_RATIOS), LOSS_FACTOR[mech.frame],
                       0.5 * forward, forward, 1.0, 1.0)


def physical_gun(mech: Mechanism, model: str, index: int, seed: int = 0) -> PhysicalGun:
    """Gun number `index` of `model`: the nominal gun with its own small, fixed offsets.

    The offsets depend only on (model, index, seed), so a gun sounds the same in every
    recording and session that uses it.
    """
    rng = derive_rng(seed, "physical-gun", model, index)
    base = nominal_gun(mech)
    z = np.clip(rng.standard_normal(4), -2.5, 2.5)
    mode = 1.0 + GUN_SPREAD["mode"] * z[0]
    stroke = 1.0 + GUN_SPREAD["stroke"] * z[1]
    return PhysicalGun(tuple(f * mode for f in base.mode_hz), base.loss_factor, base.recoil_stroke_s * stroke,
                       base.return_stroke_s * stroke, 1.0 + GUN_SPREAD["velocity"] * z[2],
                       1.0 + GUN_SPREAD["rate"] * z[3])


def signature_click(gun: PhysicalGun, rng: np.random.Generator, peak_pa: float,
                    sample_rate: int = SOURCE_RATE) -> np.ndarray:
    """One impact of the moving part: the gun's beam modes (+-0.5% per impact) and a 0.5 ms contact noise."""
    tau = [1.0 / (math.pi * f * gun.loss_factor) for f in gun.mode_hz]
    n = int(4 * max(tau) * sample_rate)
    t = np.arange(n) / sample_rate
    wave = np.zeros(n)
    for f, level, decay in zip(gun.mode_hz, BEAM_MODE_LEVELS, tau):
        if f < 0.45 * sample_rate:
            f_hit = f * (1.0 + 0.005 * rng.standard_normal())
            phase = rng.uniform(0, 2 * np.pi)
            wave += level * rng.uniform(0.7, 1.0) * np.exp(-t / decay) * np.sin(2 * np.pi * f_hit * t + phase)
    k = min(n, int(0.0005 * sample_rate))
    wave[:k] += 0.5 * rng.standard_normal(k) * np.linspace(1.0, 0.0, k)
    return wave * (peak_pa / max(np.abs(wave).max(), 1e-12))


# --------------------------------------------------------------------------- muzzle devices
def directivity_db(azimuth_deg: float, rear_attenuation_db: float) -> float:
    """Level relative to the front: 0 dB ahead, -rear_attenuation_db behind, cardioid-like between."""
    return -rear_attenuation_db * (1.0 - math.cos(math.radians(azimuth_deg))) / 2.0


def blast_components(gun: GunAcoustics, distance_m: float, azimuth_deg: float, device: str = "bare",
                     suppression_db: float = 0.0) -> list[tuple[float, float]]:
    """(peak Pa, positive-phase duration s) of each blast a shot makes at the microphone.

    The main blast takes the gas the device leaves it; a brake's or compensator's jet is a second,
    smaller Kinney-Graham blast: a brake's from side ports (BRAKE_JET_DB from 90 deg backwards,
    10 dB less straight ahead), a compensator's from top ports (COMPENSATOR_JET_DB all round). `suppression_db` > 0
    means a suppressor (no other device then).
    """
    if device not in DEVICE_SHARE:
        raise ValueError(f"unknown muzzle device {device!r}; known: {', '.join(MUZZLE_DEVICES)}")
    w = gun.tnt_equivalent_kg()
    blowdown_s = gun.barrel_length_m / 900.0  # as in firearm.blast_parameters

    def blast(w_kg: float, gain_db: float, duration_factor: float = 1.0) -> tuple[float, float]:
        root = w_kg ** (1.0 / 3.0)
        ps_ratio, td_scaled = kinney_graham(distance_m / root)
        td = math.hypot(td_scaled * root, blowdown_s) * duration_factor
        return ps_ratio * P0_PA * 10 ** (gain_db / 20.0), td

    if suppression_db > 0:
        return [blast(w, -suppression_db + directivity_db(azimuth_deg, SUPPRESSED_REAR_ATTENUATION_DB),
                      SUPPRESSED_DURATION_FACTOR)]
    share = DEVICE_SHARE[device]
    out = [blast(w * (1.0 - share), directivity_db(azimuth_deg, REAR_ATTENUATION_DB))]
    if share > 0:  # brake ports point sideways and back; compensator ports point up, away from the ear
        jet_db = (BRAKE_JET_DB - 10.0 * max(0.0, math.cos(math.radians(azimuth_deg))) if device == "brake"
                  else COMPENSATOR_JET_DB)
        out.append(blast(w * share, jet_db))
    return out


# --------------------------------------------------------------------------- action noise
class SignatureBank:
    """Up to `variants` rendered impacts per (event, gun) with the path filter applied once each;
    long automatic recordings reuse them (one mechanism makes nearly the same sound every cycle)."""

    def __init__(self, gun: PhysicalGun, rng: np.random.Generator, path_filter=None, variants: int = 4):
        self.gun, self.rng, self.path_filter, self.variants, self._bank = gun, rng, path_filter, variants, {}

    def get(self, key: str, peak_pa: float) -> np.ndarray:
        waves = self._bank.setdefault(key, [])
        if len(waves) < self.variants:
            wave = signature_click(self.gun, self.rng, 1.0)
            waves.append(self.path_filter(wave) if self.path_filter else wave)
            wave = waves[-1]
        else:
            wave = waves[int(self.rng.integers(len(waves)))]
        return wave * peak_pa


def _db_pa(spl_db: float) -> float:
    return 20e-6 * 10 ** (spl_db / 20.0)


def action_events(ga: GunAcoustics, mech: Mechanism, gun: PhysicalGun, period_s: float | None,
                  first_in_group: bool, rng: np.random.Generator, bank: SignatureBank,
                  case_bank=None) -> list[tuple[float, np.ndarray]]:
    """Mechanical transients of one shot as (time after the shot in s, waveform in Pa at 1 m).

    Self-loading actions: the recoil stroke ends in a rear impact, the return stroke in the
    in-battery impact (closed bolt). In automatic fire the cycle is squeezed to fit the period.
    Open bolt: the bolt is caught at the rear; before the first shot of a group the sear releases
    and the bolt runs forward (the shot fires as it closes). Pump and revolver: the gun's modes at
    human stroke times. Spent cases land ~0.5 s later (`case_bank`: a `firearm.ClickBank`).
    Peak levels at 1 m are estimates (docs/simulator.md).
    """
    events: list[tuple[float, np.ndarray]] = []
    if mech.bolt in ("closed", "open") and gun.cycle_s > 0:
        squeeze = min(1.0, 0.85 * period_s / gun.cycle_s) if period_s else 1.0
        recoil, cycle = gun.recoil_stroke_s * squeeze, gun.cycle_s * squeeze
        if mech.bolt == "closed":
            events.append((recoil, bank.get("rear", _db_pa(rng.uniform(104, 112)))))
            events.append((cycle, bank.get("battery", _db_pa(rng.uniform(112, 122)))))
        else:
            events.append((recoil, bank.get("rear", _db_pa(rng.uniform(112, 120)))))
            if first_in_group:
                events.append((-gun.return_stroke_s, bank.get("sear", _db_pa(rng.uniform(98, 108)))))
    elif mech.bolt == "manual":
        back = rng.uniform(0.25, 0.45)
        events.append((back, bank.get("pump_back", _db_pa(rng.uniform(105, 115)))))
        events.append((back + rng.uniform(0.12, 0.22), bank.get("pump_fwd", _db_pa(rng.uniform(106, 116)))))
    elif mech.bolt == "revolver":
        events.append((-rng.uniform(0.03, 0.09), bank.get("hammer", _db_pa(rng.uniform(92, 102)))))
    if case_bank is not None and mech.bolt in ("closed", "open"):
        t_fall = math.sqrt(2 * rng.uniform(1.0, 1.6) / 9.81)  # a ~1.2-1.5 m fall
        for bounce in range(int(rng.integers(1, 4))):
            events.append((t_fall + 0.08 * bounce * rng.uniform(0.6, 1.2),
                           case_bank.get("case", _db_pa(rng.uniform(80, 92) - 6 * bounce), 4000, 14000, 0.02, 4)))
    if case_bank is not None and mech.bolt == "manual":  # the plastic hull's dull landing
        events.append((0.7, case_bank.get("hull", _db_pa(rng.uniform(70, 80)), 300, 1500, 0.01, 3)))
    return events
