import numpy as np

from gunshot_bench import audio
from gunshot_bench.dataset.neardup import bit_error, find_near_duplicates, fingerprint
from gunshot_bench.rng import derive_rng
from tests.conftest import babble, shot_train


def reencoded(x):
    """The same audio after a trip through 22.05 kHz, a -6 dB gain, 16-bit rounding and faint noise."""
    y = audio.resample(audio.resample(x, 44_100, 22_050), 22_050, 44_100)[: len(x)]
    y = y * 0.5 + derive_rng(0, "hiss").standard_normal(len(y)).astype(np.float32) * 1e-4
    return audio.decode_wav(audio.encode_wav(y))[0]


def test_reencoded_copy_is_a_near_duplicate_and_others_are_not():
    a = shot_train("a", duration_s=2.0)
    b = shot_train("b", duration_s=2.0)
    c = babble("c", duration_s=2.0)
    prints = [fingerprint(x, 44_100) for x in (a, reencoded(a), b, c, reencoded(c))]
    assert bit_error(prints[0], prints[1]) < 0.15
    assert bit_error(prints[0], prints[2]) > 0.3
    pairs = find_near_duplicates(["a", "a2", "b", "c", "c2"], prints)
    assert {(p.a, p.b) for p in pairs} == {("a", "a2"), ("c", "c2")}


def test_digital_silence_does_not_make_duplicates():
    rate = 44_100
    a, b = np.zeros(2 * rate, np.float32), np.zeros(2 * rate, np.float32)
    a[1000:1200] = derive_rng(0, "a").standard_normal(200)
    b[50000:50200] = derive_rng(0, "b").standard_normal(200)
    assert bit_error(fingerprint(a, rate), fingerprint(b, rate)) == 1.0  # too little audible to compare
    assert find_near_duplicates(["a", "b"], [fingerprint(a, rate), fingerprint(b, rate)]) == []
