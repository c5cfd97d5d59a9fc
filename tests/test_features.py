"""Features against direct librosa computations."""

import librosa
import numpy as np
import pytest
import torch

from gunshot_bench import features as F
from synth_clips import make_clips

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def clips():
    return make_clips([0, 2, 4], seed=3)


def test_librosa_framing_gives_512_by_345():
    spec = librosa.stft(np.zeros(F.CLIP_SAMPLES, np.float32), n_fft=1024, hop_length=256, center=True)
    assert spec.shape == (513, 345)
    assert F.log_stft_shape() == (512, 345)


def test_log_stft_matches_librosa(clips):
    got = F.log_stft(clips)
    assert got.shape == (3, 512, 345) and got.dtype == np.float32
    for clip, feat in zip(clips, got):
        ref = np.log1p(np.abs(librosa.stft(clip, n_fft=1024, hop_length=256, center=True,
                                           pad_mode="constant", window="hann")))[1:]
        np.testing.assert_allclose(feat, ref, atol=1e-5, rtol=0)


def test_log_stft_single_clip_and_batching_agree(clips):
    batched = F.log_stft(clips, batch_size=2)
    np.testing.assert_array_equal(F.log_stft(clips[1]), batched[1])
    half = F.log_stft(clips, dtype=np.float16)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), batched, rtol=1e-3, atol=1e-3)


def test_short_and_long_clips_are_fixed_to_two_seconds(clips):
    short = clips[0, :50_000]
    padded = np.concatenate([short, np.zeros(F.CLIP_SAMPLES - 50_000, np.float32)])
    np.testing.assert_array_equal(F.log_stft(short), F.log_stft(padded))
    longer = np.concatenate([clips[0], np.ones(1000, np.float32)])
    np.testing.assert_array_equal(F.log_stft(longer), F.log_stft(clips[0]))


def test_dc_bin_is_dropped():
    # A constant signal has all its energy at DC; the Hann window spreads half of its
    # amplitude into bin 1 and nothing beyond, so the first kept row is bin 1 (half the DC
    # peak) and the DC row itself is gone.
    x = np.full(F.CLIP_SAMPLES, 0.5, np.float32)
    feat = F.log_stft(x)[:, 100]
    dc = np.abs(librosa.stft(x, n_fft=1024, hop_length=256))[:, 100]
    assert dc[0] == pytest.approx(0.5 * 512, rel=1e-4)  # sum of a periodic Hann = n_fft / 2
    assert feat[0] == pytest.approx(np.log1p(dc[0] / 2), rel=1e-4)
    assert feat[1:].max() < 1e-3


def test_feature_stats_are_the_training_mean_and_std(clips):
    feats = F.log_stft(clips)
    stats = F.FeatureStats.from_features(feats, chunk=2)
    assert stats.mean == pytest.approx(float(feats.astype(np.float64).mean()), rel=1e-9)
    assert stats.std == pytest.approx(float(feats.astype(np.float64).std()), rel=1e-9)
    z = stats.apply(feats)
    assert abs(float(z.mean())) < 1e-4 and float(z.std()) == pytest.approx(1.0, abs=1e-4)
    assert (F.FeatureStats().mean, F.FeatureStats().std) == (0.1877, 0.4756)
    with pytest.raises(ValueError, match="positive std"):
        F.FeatureStats(0.0, 0.0)
    with pytest.raises(ValueError, match="empty"):
        F.FeatureStats.from_features(np.zeros((0, 4, 4)))


def test_mfcc_frames_and_stats_match_librosa(clips):
    frames = F.mfcc_frames(clips)
    stats = F.mfcc_stats(clips)
    assert frames.shape == (3, 173, 20) and stats.shape == (3, 80)
    for i, clip in enumerate(clips):
        ref = librosa.feature.mfcc(y=clip, sr=44100, n_mfcc=20, n_fft=2048, hop_length=512, n_mels=40)
        np.testing.assert_allclose(frames[i], ref.T, rtol=1e-4, atol=1e-3)
        delta = librosa.feature.delta(ref)
        want = np.concatenate([ref.mean(1), ref.std(1), delta.mean(1), delta.std(1)])
        np.testing.assert_allclose(stats[i], want, rtol=1e-4, atol=1e-3)


def test_mfcc_frames_in_chunks_equal_one_call(clips, monkeypatch):
    """Chunking over clips (which bounds librosa's memory) changes nothing, partial chunk included."""
    whole = F.mfcc_frames(clips)
    monkeypatch.setattr(F, "_MFCC_CHUNK", 2)
    np.testing.assert_array_equal(F.mfcc_frames(clips), whole)
    assert F.mfcc_frames(clips[:0]).shape == (0, 173, 20)


def _quiet_and_loud():
    """A quiet clip (a shot at -70 dBFS peak over a very low floor) and a loud one (0.9 peak):
    ~60 dB apart, so a dB floor measured over the pair (librosa's 80 dB below the loudest
    value) would clip the quiet clip's mel bands while one measured per clip leaves them."""
    quiet, loud = make_clips([1, 3], seed=11, tag="loudness")
    quiet = quiet / np.abs(quiet).max() * 10 ** (-70 / 20)
    loud = loud / np.abs(loud).max() * 0.9
    return quiet.astype(np.float32), loud.astype(np.float32)


@pytest.mark.parametrize("path", ["log_stft", "mfcc_frames", "mfcc_stats"])
def test_features_of_a_quiet_clip_do_not_depend_on_a_loud_neighbour(path):
    """Issue 11: batching is an optimisation only; a clip's features are a function of that clip."""
    fn = getattr(F, path)
    quiet, loud = _quiet_and_loud()
    alone = fn(quiet[None])[0]
    for batch in (np.stack([quiet, loud]), np.stack([loud, quiet, loud])):
        beside = fn(batch)[list(batch[:, 0] == quiet[0]).index(True)]
        np.testing.assert_allclose(beside, alone, rtol=1e-5, atol=1e-5 * np.abs(alone).max())


def test_mfcc_of_a_quiet_clip_is_the_librosa_mfcc_of_that_clip_alone():
    """The reference is librosa on the one clip (whose 80 dB floor is measured on that clip)."""
    quiet, loud = _quiet_and_loud()
    ref = librosa.feature.mfcc(y=quiet, sr=44100, n_mfcc=20, n_fft=2048, hop_length=512, n_mels=40)
    got = F.mfcc_frames(np.stack([loud, quiet]))[1]
    np.testing.assert_allclose(got, ref.T, rtol=1e-4, atol=1e-3)
    # and the batched librosa call is what went wrong: its floor comes from the loud clip
    batched = librosa.feature.mfcc(y=np.stack([loud, quiet]), sr=44100, n_mfcc=20, n_fft=2048,
                                   hop_length=512, n_mels=40)[1]
    assert np.abs(batched - ref).max() > 1.0
