"""Compare simulated gunshots with real recordings (not a test).

Usage: python benchmarks/calibrate_sim.py [--reference DIR] [--seeds 4]

The reference is the Free Firearm Sound Library subset in benchmarks/reference_audio/ (9 CC0
files, 48 kHz 24-bit stereo FLAC converted from the 192 kHz originals; see its README.md). When
it is absent the script says so and exits 0. Measured on each real file (channel 0) and on simulated
clips of the nearest models in matching geometries (96 kHz, measurement microphone, no codec,
no AGC, no ambience, so that the physics is compared rather than the web recording chain):

- blast A-duration: onset (first sample above 20% of the peak) to the first zero crossing after
  the peak, of the first shot's blast (MIL-STD-1474's A-duration);
- crack: the largest sample 60-3 ms before the first blast, relative to it, and its lead;
- spectral centroid and 85% roll-off of the 100 ms after each shot onset (at 48 kHz);
- decay time T20: from the last shot's peak until the 5 ms-smoothed envelope stays 20 dB down;
- burst intervals: median and coefficient of variation of onset-to-onset times under 0.2 s.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from gunshot_bench.sim import chain
from gunshot_bench.sim.presets import RecordingPlan
from gunshot_bench.sim.recording import render_gunshot
from gunshot_bench.taxonomy import get_model

DEFAULT_REF = Path(__file__).resolve().parent / "reference_audio"
CLEAN = chain.ChainParams("measurement", 20.0, 20000.0, False, -20.0, 0.003, 0.5, "none", 1.0, "none", 0.0)
#: real file (stem) -> (simulated model, distance m, azimuth deg, why)
PAIRS = {
    "AK-47_C_24": ("AK-47", 50.0, 40.0, "far, in front; geometry set to the observed 9.5 ms crack lead"),
    "AK-47_C_30": ("AK-47", 5.0, 60.0, "near, in front, long burst"),
    "AK-47_C_38": ("AK-47", 25.0, 30.0, "mid distance, in front"),
    "AK-47_C_44": ("AK-47", 5.0, 170.0, "behind the shooter, long burst"),
    "Carl_Gustav_M45_Swedish_K_G_18": ("Uzi", 25.0, 30.0, "9 mm open-bolt SMG ~600 rpm, mid"),
    "Carl_Gustav_M45_Swedish_K_G_23": ("Uzi", 80.0, 20.0, "9 mm open-bolt SMG ~600 rpm, far"),
    "Carl_Gustav_M45_Swedish_K_G_24": ("Uzi", 25.0, 30.0, "9 mm open-bolt SMG ~600 rpm, mid"),
    "Ruger_10-22_Q_1": ("S&W .38 Revolver", 1.5, 90.0, "suppressed .22 at the muzzle: no close model"),
    "Ruger_Mark_III_R_34": ("Glock 17", 5.0, 60.0, ".22 pistol vs the weakest 9 mm pistol"),
}
RATE = 48_000


def onsets(x: np.ndarray, fs: int) -> np.ndarray:
    env = signal.convolve(np.abs(x), np.ones(int(0.001 * fs)), mode="same")
    peaks, _ = signal.find_peaks(env, height=0.3 * env.max(), distance=int(0.035 * fs))
    return peaks


def a_duration_ms(x: np.ndarray, fs: int) -> float:
    k = int(np.argmax(np.abs(x)))
    sign = np.sign(x[k])
    y = sign * x
    a = max(0, k - int(0.005 * fs))
    start = a + int(np.argmax(y[a:k + 1] > 0.2 * y[k]))
    after = np.nonzero(y[k:k + int(0.01 * fs)] <= 0)[0]
    return 1000 * ((k + (after[0] if after.size else int(0.01 * fs))) - start) / fs


def spectrum_stats(x: np.ndarray, fs: int, starts: np.ndarray) -> tuple[float, float]:
    n = int(0.1 * fs)
    power = np.zeros(n // 2 + 1)
    for s in starts:
        seg = x[max(0, s - int(0.002 * fs)): s - int(0.002 * fs) + n]
        if seg.size == n:
            power += np.abs(np.fft.rfft(seg * np.hanning(n))) ** 2
    f = np.fft.rfftfreq(n, 1 / fs)
    centroid = float((f * power).sum() / power.sum())
    rolloff = float(f[np.searchsorted(np.cumsum(power), 0.85 * power.sum())])
    return centroid, rolloff


def decay_t20_ms(x: np.ndarray, fs: int, last: int) -> float:
    env = np.sqrt(signal.convolve(x**2, np.ones(int(0.005 * fs)) / int(0.005 * fs), mode="same"))
    db = 20 * np.log10(env[last:] / env[last:last + int(0.005 * fs)].max() + 1e-12)
    above = np.nonzero(db > -20)[0]
    return 1000 * (above[-1] if above.size else 0) / fs


def measure(x: np.ndarray, fs: int) -> dict:
    x = x - x.mean()
    pk = onsets(x, fs)
    k = int(np.argmax(np.abs(x)))
    y = soxr.resample(x, fs, RATE) if fs != RATE else x
    starts = (pk * RATE / fs).astype(int)
    centroid, rolloff = spectrum_stats(y, RATE, starts)
    # Ballistic crack ahead of the first shot's blast. The blast is the last peak above half the
    # maximum within 60 ms of the first onset (peaks > 3 ms apart; a crack, when louder than 50%
    # of the blast, comes first); the crack is the largest sample 60-3 ms before the blast.
    first = int(pk[0]) if len(pk) else k
    lo = max(0, first - int(0.003 * fs))
    r = np.abs(x[lo: first + int(0.06 * fs)])
    cands, _ = signal.find_peaks(r, height=0.5 * r.max(), distance=int(0.003 * fs))
    blast = lo + int(cands[-1] if cands.size else np.argmax(r))
    win = np.abs(x[max(0, blast - int(0.06 * fs)): blast - int(0.003 * fs)])
    j = int(np.argmax(win)) if win.size else 0
    precursor = float(win[j] / abs(x[blast])) if win.size else 0.0
    lead = 1000 * (win.size - j + int(0.003 * fs)) / fs if precursor > 0.05 else float("nan")
    a_dur = a_duration_ms(x[max(0, blast - int(0.002 * fs)): blast + int(0.02 * fs)], fs)
    # Blast onsets only: an onset closer than 0.6 ms... N-wave/blast pairs count as one shot.
    gaps = np.diff(pk) / fs
    burst = gaps[(gaps < 0.2) & (gaps > 0.03)]
    return {"shots": len(pk), "precursor_ratio": precursor, "precursor_lead_ms": lead if precursor > 0.05 else float("nan"),
            "a_duration_ms": a_dur, "centroid_hz": centroid, "rolloff_hz": rolloff,
            "t20_ms": decay_t20_ms(y, RATE, int(starts[-1])) if len(starts) else float("nan"),
            "interval_ms": 1000 * float(np.median(burst)) if burst.size >= 3 else float("nan"),
            "interval_cv": float(np.std(burst) / np.mean(burst)) if burst.size >= 3 else float("nan")}


def simulate(model: str, distance: float, azimuth: float, seeds: int, burst: bool) -> list[dict]:
    out, seed = [], 0
    while len(out) < seeds and seed < 200:
        rec = RecordingPlan(f"calibration-{model}", "gunshot", model, get_model(model).category, 1, 1.0)
        audio, row = render_gunshot(rec, seed, dict(environment="open_field", distance_m=distance, azimuth_deg=azimuth,
                                                    ambient="none", sample_rate=96000, channels=1, chain=CLEAN,
                                                    temperature_c=15.0, humidity_pct=60.0))
        seed += 1
        if burst and row["firing_mode"] != "burst":
            continue
        m = measure(audio[:, 0], 96000)
        m["nwave"] = row["nwave_present"]
        out.append(m)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="simulated vs real gunshots")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REF)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    if not (args.reference / "labels.csv").is_file():
        print(f"reference recordings not found at {args.reference}; nothing to compare (skipped)")
        return 0
    with open(args.reference / "labels.csv", newline="") as fh:
        files = [row["file"] for row in csv.DictReader(fh)]
    keys = ("shots", "precursor_ratio", "precursor_lead_ms", "a_duration_ms", "centroid_hz", "rolloff_hz", "t20_ms", "interval_ms", "interval_cv")
    print("| file | sim model @ geometry | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for name in files:
        if Path(name).stem not in PAIRS:
            continue
        x, fs = sf.read(args.reference / name, always_2d=True)
        real = measure(x[:, 0], fs)
        model, dist, az, why = PAIRS[Path(name).stem]
        sims = simulate(model, dist, az, args.seeds, burst="burst" in why or "SMG" in why)
        with np.errstate(all="ignore"):
            import warnings
            warnings.simplefilter("ignore", RuntimeWarning)
            sim = {k: float(np.nanmedian([s[k] for s in sims])) if sims else float("nan") for k in keys}
        fmt = lambda d: " | ".join(f"{d[k]:.2f}" if k in ("interval_cv", "a_duration_ms", "precursor_ratio")
                                   else f"{d[k]:.1f}" if k == "precursor_lead_ms" else f"{d[k]:.0f}" for k in keys)
        print(f"| {name} (real) | | {fmt(real)} |")
        print(f"| | {model} {dist:.0f} m {az:.0f} deg ({why}) | {fmt(sim)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
