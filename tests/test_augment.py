"""Train-time augmentation: each stage measured by its physics, determinism per seed, wiring into runs."""

import json
import random

import numpy as np
import pytest
from scipy import signal

from gunshot_bench.augment import AugmentConfig, Augmenter, apply_params, augment_clip, draw_params
from gunshot_bench.rng import derive_rng
from gunshot_bench.variants.mixing import measure_snr_db
from synth_clips import make_clips

SR = 44100
STAGES = ("shift", "background", "band", "resample", "gain", "codec")


def only(stage: str, **fields) -> AugmentConfig:
    """A config that always augments and runs only `stage`."""
    probs = {f"{s}_p": float(s == stage) for s in STAGES}
    return AugmentConfig(p=1.0, **{**probs, **fields})


def noise(key, n=2 * SR, level=0.05):
    return (level * derive_rng(0, "augment-test", key).standard_normal(n)).astype(np.float32)


def band_db(x, lo, hi):
    f, pxx = signal.welch(x, SR, nperseg=8192)
    return 10 * np.log10(pxx[(f >= lo) & (f < hi)].mean())


def test_gain_is_the_drawn_gain():
    x = noise("gain", level=0.01)
    seen = []
    for clip in range(8):
        y, params = augment_clip(x, only("gain", gain_db=(-12.0, 6.0)), seed=1, clip_key=clip, epoch=0)
        measured = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(x.astype(np.float64) ** 2)))
        assert measured == pytest.approx(params["gain_db"], abs=0.01)
        seen.append(params["gain_db"])
    assert min(seen) >= -12 and max(seen) <= 6 and np.ptp(seen) > 3  # drawn, not constant


def test_background_is_mixed_at_the_drawn_event_snr():
    clips = make_clips([0, 1, 2, 3], seed=0, tag="aug")
    background = np.stack([noise(("bg", k), level=0.02) for k in range(3)])
    cfg = only("background", background_snr_db=(0.0, 20.0))
    for i, x in enumerate(clips):
        y, params = augment_clip(x, cfg, seed=0, clip_key=i, epoch=2, background=background)
        assert 0 <= params["snr_db"] <= 20 and 0 <= params["background_index"] < 3
        assert measure_snr_db(x, y - x, "event", SR) == pytest.approx(params["snr_db"], abs=0.5)
        # the added sound is the chosen background segment, scaled
        added = (y - x).astype(np.float64)
        src = background[params["background_index"]].astype(np.float64)
        assert abs(np.corrcoef(added, src)[0, 1]) > 0.99


def test_band_limit_measured_by_spectrum():
    x = noise("band", level=0.1)
    cfg = only("band", highpass_hz=(150.0, 200.0), lowpass_hz=(3000.0, 4000.0), band_rolloff_db_per_octave=24)
    y, params = augment_clip(x, cfg, seed=0, clip_key="w", epoch=0)
    hp, lp = params["highpass_hz"], params["lowpass_hz"]
    assert 150 <= hp <= 200 and 3000 <= lp <= 4000

    def gain(lo, hi):
        return band_db(y, lo, hi) - band_db(x, lo, hi)

    assert abs(gain(2 * hp, lp / 2)) < 3  # passband kept
    assert gain(2 * lp, 4 * lp) < -20  # >= one octave above the low-pass: 24 dB/octave
    assert gain(hp / 8, hp / 4) < -30  # >= two octaves below the high-pass


def test_sample_rate_degradation_removes_the_band_above_the_new_nyquist():
    x = noise("sr", level=0.1)
    y, params = augment_clip(x, only("resample", sample_rate_hz=(8000.0, 16000.0)), seed=0, clip_key="s", epoch=0)
    nyquist = params["sample_rate_hz"] / 2
    assert params["sample_rate_hz"] in (8000, 11025, 16000) and y.shape == x.shape
    assert band_db(y, 1.1 * nyquist, 20000) - band_db(x, 1.1 * nyquist, 20000) < -40
    assert abs(band_db(y, 200, 0.8 * nyquist) - band_db(x, 200, 0.8 * nyquist)) < 1


def test_codec_is_a_real_mp3_round_trip_without_delay():
    x = make_clips([2], seed=3, tag="codec")[0]
    onset = int(np.argmax(np.abs(x) > 0.1))
    y, params = augment_clip(x, only("codec", codec_bitrate_kbps=(24.0, 32.0)), seed=0, clip_key="c", epoch=0)
    assert 24 <= params["codec_bitrate_kbps"] <= 32 and y.shape == x.shape
    assert not np.allclose(y, x, atol=1e-4)
    assert np.corrcoef(x, y)[0, 1] > 0.9
    assert abs(int(np.argmax(np.abs(y) > 0.1)) - onset) < 0.002 * SR  # delay compensated
    white = noise("codec-white", level=0.1)
    yw, _ = augment_clip(white, only("codec", codec_bitrate_kbps=(24.0, 24.0)), seed=0, clip_key="w", epoch=0)
    assert band_db(yw, 16000, 20000) - band_db(white, 16000, 20000) < -20  # low bitrate: low-passed


def test_shift_moves_the_shot_by_the_drawn_time():
    x = np.zeros(2 * SR, np.float32)
    x[SR] = 1.0
    y, params = augment_clip(x, only("shift", shift_max_s=0.4), seed=0, clip_key="i", epoch=0)
    assert abs(params["shift_s"]) <= 0.4
    assert abs(int(np.argmax(y)) - (SR + params["shift_s"] * SR)) <= 1


def test_augmentation_is_deterministic_per_seed_clip_and_epoch():
    X = make_clips([0, 1, 2, 3, 4], seed=1, tag="det")
    background = np.stack([noise(("bg", k)) for k in range(2)])
    keys = [f"c{i}" for i in range(5)]
    cfg = AugmentConfig(p=1.0, shift_p=1, background_p=1, band_p=1, resample_p=1, gain_p=1, codec_p=1)
    state = (random.getstate(), np.random.get_state()[1].copy())
    a, changed = Augmenter(cfg, 7, X, keys, background)(np.arange(5), epoch=1)
    assert random.getstate() == state[0] and np.array_equal(np.random.get_state()[1], state[1])
    b, _ = Augmenter(cfg, 7, X, keys, background)(np.arange(5), epoch=1)
    np.testing.assert_array_equal(a, b)
    assert changed.all()
    # a clip's augmentation does not depend on its batch
    alone, _ = Augmenter(cfg, 7, X, keys, background)(np.array([3]), epoch=1)
    np.testing.assert_array_equal(alone[0], a[3])
    other_epoch, _ = Augmenter(cfg, 7, X, keys, background)(np.arange(5), epoch=2)
    other_seed, _ = Augmenter(cfg, 8, X, keys, background)(np.arange(5), epoch=1)
    assert not np.allclose(other_epoch, a) and not np.allclose(other_seed, a)


def test_p_leaves_clips_untouched_and_draws_are_recorded():
    cfg = AugmentConfig(p=0.5)
    draws = [draw_params(cfg, derive_rng(0, "p", i), n_background=3) for i in range(400)]
    untouched = sum(not d for d in draws) / len(draws)
    assert 0.42 < untouched < 0.58
    x = noise("p")
    for d in draws[:20]:
        y = apply_params(x, d, cfg, np.stack([noise("b")] * 3))
        assert (np.array_equal(y, x)) == (not d)


def test_config_from_baseline_tables_is_validated():
    assert AugmentConfig.from_dict(None) is None
    assert AugmentConfig.from_dict({"enabled": False}) is None
    cfg = AugmentConfig.from_dict({"gain_db": [-6, 0], "codec_p": 0})
    assert cfg.gain_db == (-6.0, 0.0) and cfg.as_dict()["gain_db"] == [-6.0, 0.0]
    with pytest.raises(ValueError, match="no key gian_db"):
        AugmentConfig.from_dict({"gian_db": [0, 1]})
    with pytest.raises(ValueError, match="low <= high"):
        AugmentConfig(gain_db=(3.0, -3.0))
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig(codec_p=1.5)


# ---- wiring into training runs --------------------------------------------------------------
from test_train import ONE_PER_CATEGORY, fake_data  # noqa: E402,F401  (the fixture)


def test_torch_run_augments_per_epoch_deterministically(fake_data, tmp_path):
    from gunshot_bench.train import train_run
    from synth_clips import fake_split

    over = {"max_epochs": 2, "batch_size": 8, "augment": {"p": 1.0, "codec_p": 0.0}}
    a = train_run(fake_data["dir"], "cnn", "detection", 3, tmp_path / "a", over, progress=False)
    b = train_run(fake_data["dir"], "cnn", "detection", 3, tmp_path / "b", over, progress=False)
    plain = train_run(fake_data["dir"], "cnn", "detection", 3, tmp_path / "p",
                      {"max_epochs": 2, "batch_size": 8}, progress=False)
    X, _ = fake_split(ONE_PER_CATEGORY, 2, seed=0, split="validation", background=8)
    np.testing.assert_array_equal(a.model.predict_proba(X), b.model.predict_proba(X))
    assert not np.allclose(a.model.predict_proba(X), plain.model.predict_proba(X))
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["augment"]["p"] == 1.0 and config["augment"]["codec_p"] == 0.0
    assert json.loads((tmp_path / "p" / "config.json").read_text())["augment"] is None
    # backgrounds are read from the training split only
    assert ("background", "train") in fake_data["calls"]
    assert not {("background", "validation"), ("background", "test")} & set(fake_data["calls"])


def test_classical_run_trains_on_augmented_copies(fake_data, tmp_path, monkeypatch):
    from gunshot_bench.models.classical import LDAClassifier
    from gunshot_bench.train import train_run

    sizes = []
    original = LDAClassifier.fit
    # a fit without an `augmenter` argument (a plugin's model) gets the clips and copies concatenated
    monkeypatch.setattr(LDAClassifier, "fit", lambda self, X, y, *a, **k: (sizes.append(len(X)), original(self, X, y))[1])
    train_run(fake_data["dir"], "lda", "category", 0, tmp_path / "r", {"augment": {"copies": 2, "p": 1.0, "gain_p": 1.0}}, progress=False)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert sizes == [3 * config["n_train"]] and config["augment"]["copies"] == 2
    # with p < 1 only the clips a copy changed are added
    train_run(fake_data["dir"], "lda", "category", 0, tmp_path / "h", {"augment": {"copies": 2, "p": 0.5, "gain_p": 1.0}}, progress=False)
    assert config["n_train"] < sizes[1] < 3 * config["n_train"]
    # the package's classical models take the augmenter and featurise the copies themselves
    monkeypatch.setattr(LDAClassifier, "fit", original)
    svm = train_run(fake_data["dir"], "svm", "category", 0, tmp_path / "s",
                    {"augment": {"copies": 2, "p": 1.0, "gain_p": 1.0}}, progress=False)
    assert svm.model.scaler_.n_samples_seen_ == 3 * config["n_train"]


@pytest.mark.parametrize("name", ["svm", "lda", "gmm"])
def test_classical_fit_on_copies_chunk_by_chunk_equals_the_concatenated_fit(name, monkeypatch):
    """Issue 14: the classical models featurise the augmented copies a chunk at a time instead of
    training on [clips; copies] concatenated; the features, their order and the model are the same."""
    import gunshot_bench.augment as augment
    from gunshot_bench.checkpoint import estimator_state
    from gunshot_bench.models import get
    from synth_clips import make_dataset

    X, y = make_dataset(8, [0, 1, 2], seed=0, tag="copies")
    background = np.stack([noise(("copies-bg", k), level=0.02) for k in range(3)])
    cfg = AugmentConfig(copies=2, p=0.7, codec_p=0.0)  # no MP3: same path, faster test
    augmenter = Augmenter(cfg, 0, X, [f"clip{i}" for i in range(len(X))], background)
    extra, source = augmenter.copies()
    assert len(X) < len(X) + len(extra) < 3 * len(X)  # some clips changed in each copy, not all
    before = get(name, random_state=0).fit(np.concatenate([X, extra]), np.concatenate([y, y[source]]))
    monkeypatch.setattr(augment, "COPY_CHUNK_CLIPS", 5)  # several chunks per copy, some with no changed clip
    assert len(list(augmenter.copy_chunks())) > 2 * cfg.copies
    after = get(name, random_state=0).fit(X, y, augmenter=augmenter)
    assert before._estimators().keys() == after._estimators().keys()
    for key, est in before._estimators().items():
        scalars, arrays = estimator_state(est)
        scalars_after, arrays_after = estimator_state(after._estimators()[key])
        assert scalars == scalars_after, key
        assert arrays.keys() == arrays_after.keys() and arrays, key
        for field, value in arrays.items():
            np.testing.assert_array_equal(value, arrays_after[field], err_msg=f"{key}.{field}")
    X_test, _ = make_dataset(2, [0, 1, 2], seed=1, tag="copies-test")
    np.testing.assert_array_equal(before.predict_proba(X_test), after.predict_proba(X_test))


def test_baseline_augment_tables_and_profiles(tmp_path):
    from gunshot_bench.train import load_baseline

    path = tmp_path / "e.toml"
    path.write_text('name = "e"\nmodel = "cnn"\n[augment]\ncodec_p = 0.5\n[decision]\ntarget_false_alarm_rate = 0.05\n'
                    '[profiles.small.augment]\ncodec_p = 0.0\n')
    full, small = load_baseline(path), load_baseline(path, "small")
    assert full["overrides"]["augment"] == {"codec_p": 0.5} and small["overrides"]["augment"] == {"codec_p": 0.0}
    assert full["overrides"]["decision"] == {"target_false_alarm_rate": 0.05}
    path.write_text('name = "e"\nmodel = "cnn"\n[augment]\ncodecp = 0.5\n')
    with pytest.raises(ValueError, match=r"e\.toml: \[augment\] has no key codecp"):
        load_baseline(path)


def test_subset_augmenter_gives_each_clip_its_own_draw():
    X = np.stack([noise(f"subset-{i}") for i in range(6)])
    whole = Augmenter(AugmentConfig(p=1.0, codec_p=0.0), 5, X, [f"c{i}" for i in range(6)])
    rows = np.array([1, 4, 5])
    part = whole.subset(rows)
    for epoch in range(2):
        a, _ = whole(rows, epoch)
        b, _ = part(np.arange(3), epoch)
        np.testing.assert_array_equal(a, b)


def test_two_stage_run_augments_both_stages_deterministically(fake_data, tmp_path, monkeypatch):
    from gunshot_bench.models.torch_base import TorchClassifier
    from gunshot_bench.train import train_run
    from synth_clips import fake_split

    augmented = []  # (network, epoch) of each call that drew augmented clips
    original = TorchClassifier._epoch_features
    def spy(self, F, idx, augmenter, epoch):
        if augmenter is not None:
            augmented.append((self.progress_desc, epoch))
        return original(self, F, idx, augmenter, epoch)
    monkeypatch.setattr(TorchClassifier, "_epoch_features", spy)
    fake_data["models"] = ONE_PER_CATEGORY + [1, 4]  # two pistols, two machine guns: trained sub-models

    small = {"max_epochs": 2, "batch_size": 8, "channels": [4, 8], "first_stride": 4}
    aug = {**small, "augment": {"p": 1.0, "codec_p": 0.0}}
    a = train_run(fake_data["dir"], "audioresnet_two_stage", "two_stage", 3, tmp_path / "a", aug, progress=False)
    stages = {desc for desc, _ in augmented}
    assert "two-stage: category" in stages and len(stages) > 1  # stage 1 and the sub-models
    b = train_run(fake_data["dir"], "audioresnet_two_stage", "two_stage", 3, tmp_path / "b", aug, progress=False)
    plain = train_run(fake_data["dir"], "audioresnet_two_stage", "two_stage", 3, tmp_path / "p", small, progress=False)
    X, _ = fake_split(ONE_PER_CATEGORY, 2, seed=0, split="validation")
    np.testing.assert_array_equal(a.model.predict_proba(X), b.model.predict_proba(X))
    assert not np.allclose(a.model.predict_proba(X), plain.model.predict_proba(X))
    assert json.loads((tmp_path / "a" / "config.json").read_text())["augment"]["p"] == 1.0
