"""The new negatives: documented levels, their own physics, no ballistic precursor."""

from __future__ import annotations

import numpy as np
import pytest

from gunshot_bench.rng import derive_rng
from gunshot_bench.sim import negatives
from gunshot_bench.sim.presets import BACKGROUND_KINDS
from gunshot_bench.taxonomy import resolve_label

FS = 48_000


def db(x: float) -> float:
    return 20 * np.log10(x / 20e-6)


def test_every_kind_is_registered_planned_and_resolves_to_background():
    assert set(negatives.ALL_SCENES) == set(BACKGROUND_KINDS) == set(negatives.ALL_ENVIRONMENTS)
    assert set(negatives.LEVELS) == set(negatives.SCENES)
    for kind in BACKGROUND_KINDS:
        assert resolve_label(kind).kind == "background", kind


@pytest.mark.parametrize("kind", sorted(negatives.SCENES))
def test_documented_level(kind):
    lo, hi, how = negatives.LEVELS[kind]
    scene = negatives.SCENES[kind](4.3, FS, derive_rng(2, kind))
    x = scene.pressure_pa
    assert np.isfinite(x).all() and x.size == int(4.3 * FS)
    if how == "rms_mic":
        assert scene.distance_m is None
        level = db(np.sqrt(np.mean(x**2)))
    elif how == "rms_1m":
        level = db(np.sqrt(np.mean(x**2)))
    else:
        level = db(np.abs(x).max())
    if how != "rms_mic":
        assert scene.distance_m is not None and scene.distance_m > 0  # a point source, propagated later
    assert lo - 0.01 <= level <= hi + 0.01, (kind, level)


@pytest.mark.parametrize("kind", sorted(k for k, v in negatives.LEVELS.items() if v[2] == "peak_1m"))
def test_no_precursor_before_an_event(kind):
    """A supersonic bullet's N-wave arrives before its blast; nothing here has one: before the
    first event there is silence."""
    scene = negatives.SCENES[kind](4.3, FS, derive_rng(3, kind))
    x = scene.pressure_pa
    if not scene.event_times_s:  # a continuous impulse train (jackhammer): its first blow starts at once
        return
    t0 = int(scene.event_times_s[0] * FS)
    peak = np.abs(x[t0: t0 + int(0.2 * FS)]).max()
    assert np.abs(x[max(0, t0 - int(0.08 * FS)): max(0, t0 - int(0.0005 * FS))]).max(initial=0.0) < 0.01 * peak


def test_engine_idling_fires_at_cylinders_times_rpm():
    scene = negatives.engine_idling(4.0, 8000, derive_rng(0, "idle"))
    f = scene.info["firing_hz"]
    assert 650 * 4 / 120 <= f <= 900 * 6 / 120
    spec = np.abs(np.fft.rfft(scene.pressure_pa))
    freqs = np.fft.rfftfreq(scene.pressure_pa.size, 1 / 8000)
    band = (freqs > 15) & (freqs < 60)
    assert abs(freqs[band][np.argmax(spec[band])] - f) < 0.05 * f


def test_jackhammer_blow_rate():
    scene = negatives.jackhammer(4.0, 16000, derive_rng(0, "jack"))
    env = np.abs(scene.pressure_pa).reshape(-1, 16).max(axis=1)  # 1 kHz envelope
    spec = np.abs(np.fft.rfft(env - env.mean()))
    freqs = np.fft.rfftfreq(env.size, 1 / 1000)
    band = (freqs > 10) & (freqs < 40)
    assert abs(freqs[band][np.argmax(spec[band])] - scene.info["blows_per_s"]) < 1.0


def test_case_bounces_shrink_by_the_restitution_coefficient():
    for surface, (e, decay, _) in negatives.SURFACES.items():
        x = np.abs(negatives.case_bounces(FS, derive_rng(0, surface), surface, 5000.0))
        first = x[: int(0.005 * FS)].max()
        # the first flight lasts 2 e v0 / g with v0 = sqrt(2 g h), h = 1-1.5 m
        a, b = (int(2 * e * np.sqrt(2 * 9.81 * h) / 9.81 * FS) for h in (1.0, 1.5))
        second = x[a - int(0.001 * FS): b + int(0.005 * FS)].max()
        assert 0.5 * e < second / first < 1.5 * e, surface
        ring_end = int((5 * decay + 0.004) * FS)  # the first impact's ringing is over
        assert x[ring_end: a - int(0.002 * FS)].max() < 0.5 * second  # silence in flight
