"""Encoders: aiSFX's front end and network, safe checkpoint loading, the registry, the cache."""

from __future__ import annotations

import importlib.util
import os

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from gunshot_bench.encoders import (EncoderUnavailable, OnnxEncoder, UnsafeCheckpoint, aisfx, available_encoders,
                                    encoder_unavailable_reason, get_encoder, register_encoder, safe_load,
                                    unregister_encoder, waveform_blocks)
from gunshot_bench.encoders.cache import EmbeddingCache
from gunshot_bench.rng import derive_rng
from tests.encoder_fixtures import TINY, tiny_encoder, tiny_net  # noqa: F401  (fixture)
from tests.synth_clips import make_clips

SR = aisfx.SAMPLE_RATE
AISFX_IMPORTABLE = importlib.util.find_spec("aisfx") is not None
WEIGHTS = aisfx.unavailable_reason() is None
needs_aisfx = pytest.mark.skipif(not AISFX_IMPORTABLE, reason="the aisfx package is not installed "
                                 "(gunshot-bench encoders install aisfx); its own functions cannot be compared")
needs_weights = pytest.mark.skipif(not WEIGHTS, reason="the aiSFX weights are not installed "
                                   "(pip install -e '.[pretrained]' && gunshot-bench encoders install aisfx)")


def sine(freq_hz: float, duration_s: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(duration_s * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


# ----------------------------------------------------------------------------- front end


@needs_aisfx
def test_front_end_equals_the_packages_own_functions(tmp_path):
    from aisfx.preprocessing import blocking, compute_hopSize, spectrogram_normalize
    from aisfx.spectrogram.spectrogram_librosa import compute_spectrogram

    clips = make_clips([0, 3, 5], seed=1, tag="aisfx")
    for i, clip in enumerate([*clips, sine(1000.0, 3.1)]):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, clip, SR, subtype="FLOAT")  # float WAV: the file holds exactly our samples
        theirs = compute_spectrogram(filename=str(path), sr=44100.0, block_size=2048, hop_size=1024, n_mels=96,
                                     f_min=0.0, f_max=22050.0)
        ours = aisfx.melspec(clip)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
        norm = spectrogram_normalize(theirs, spec_norm="original")
        np.testing.assert_allclose(aisfx.normalise(ours), norm, rtol=1e-6, atol=1e-6)
        t_m = norm.T  # their network takes [time, mel]
        expected = blocking(t_m, block_size=100, hop_size=compute_hopSize(100, 0.5, t_m), drop_partial_block=True)
        np.testing.assert_allclose(aisfx.frontend(clip), expected, rtol=1e-6, atol=1e-6)


def test_front_end_invariants():
    clip = make_clips([2], seed=3, tag="inv")[0]
    spec = aisfx.melspec(clip)
    assert spec.shape == (96, 1 + len(clip) // 1024)  # 96 mel bands, centred frames at hop 1024
    # peak normalisation: the level of the recording does not change the input
    np.testing.assert_allclose(aisfx.melspec(0.05 * clip), spec, atol=1e-4)
    # silence stays silence (no division by zero), and log10(1 + 1e4 * 0) = 0
    assert np.array_equal(aisfx.melspec(np.zeros(88200, np.float32)), np.zeros_like(spec))
    # a 2 s clip is one block of 100 frames: 87 frames of spectrogram, then zero padding
    blocks = aisfx.frontend(clip)
    assert blocks.shape == (1, 100, 96) and not blocks[0, 87:].any() and blocks[0, :87].any()
    np.testing.assert_allclose(blocks[0, :87], spec.T / 9.457798957824707, rtol=1e-6)
    # 4 s: frames 173 -> ceil((173 - 100) / 50 + 1) = 3 blocks, the partial last one dropped: 2
    assert aisfx.frontend(np.tile(clip, 2)).shape == (2, 100, 96)


def test_front_end_puts_a_tone_in_its_mel_band():
    # HTK mel bands between 0 and 22050 Hz: the band whose centre is nearest 1 kHz holds the most
    # energy of a 1 kHz tone; log10(1 + 1e4 S) of a full-scale tone stays below the paper's max
    centres = librosa.mel_frequencies(96 + 2, fmin=0.0, fmax=22050.0, htk=True)[1:-1]
    spec = aisfx.melspec(sine(1000.0))
    band = int(np.argmax(spec[:, 10:-10].mean(1)))
    assert abs(band - int(np.argmin(np.abs(centres - 1000.0)))) <= 1
    assert spec.max() < aisfx.NORM_MAX


def test_waveform_blocks_pad_the_last_block():
    b = waveform_blocks(np.arange(10, dtype=np.float32), 4)
    assert b.shape == (3, 4) and b[2].tolist() == [8, 9, 0, 0]
    assert waveform_blocks(np.ones(3, np.float32), 4).shape == (1, 4)


# --------------------------------------------------------------------------- safe loading


class _Payload:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_carrying_a_pickle_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pth"
    torch.save(({"w": torch.zeros(2)}, {"x": _Payload(marker)}), path)
    with pytest.raises(UnsafeCheckpoint) as err:
        safe_load(path)
    message = str(err.value)
    assert str(path) in message and "system" in message and "\n" not in message
    with pytest.raises(UnsafeCheckpoint, match="allow-list"):
        aisfx.load_weights(path, verify=False)  # even with the digest check off
    with pytest.raises(UnsafeCheckpoint, match="sha256"):
        aisfx.load_weights(path)  # not the released file
    assert not marker.exists()  # the payload never ran


def test_safe_load_reads_plain_weights_and_names_a_broken_file(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.arange(3.0)}, good)
    assert safe_load(good)["w"].tolist() == [0.0, 1.0, 2.0]
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UnsafeCheckpoint, match="bad.pt: refused to load"):
        safe_load(bad)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        safe_load(tmp_path / "missing.pt")


@needs_weights
def test_released_checkpoint_loads_safely_into_our_network_and_matches_theirs():
    from aisfx.models.cnn2d import EmbeddingNet

    weights = aisfx.load_weights(aisfx.checkpoint_path())
    ours = aisfx.AisfxNet().eval()
    ours.load_state_dict(weights)
    theirs = EmbeddingNet("max", 3, 1, 64).eval()
    theirs.load_state_dict(weights)
    x = torch.from_numpy(np.stack([aisfx.frontend(c)[0] for c in make_clips([0, 4], seed=2, tag="net")]))
    with torch.no_grad():
        np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ registry


def test_registry_refuses_duplicates_and_suggests_names(tiny_encoder):
    assert {"aisfx", "onnx", TINY} <= set(available_encoders())
    with pytest.raises(ValueError, match="already registered"):
        register_encoder(TINY, lambda: None)
    with pytest.raises(ValueError, match="did you mean aisfx"):
        get_encoder("aisfxx")
    assert get_encoder(TINY).describe()["embedding_size"] == 32


def test_missing_weights_name_the_extra(monkeypatch, tmp_path):
    monkeypatch.setenv(aisfx.CHECKPOINT_ENV, str(tmp_path / "nowhere.pth"))
    reason = encoder_unavailable_reason("aisfx")
    assert "nowhere.pth" in reason and "[pretrained]" in reason and "encoders install aisfx" in reason
    with pytest.raises(EncoderUnavailable, match="pretrained"):
        get_encoder("aisfx")


# ----------------------------------------------------------------------- pure and cached


def test_embeddings_do_not_depend_on_batching(tiny_encoder):
    X = make_clips([0, 1, 2, 3, 4], seed=4, tag="batch")
    whole = tiny_encoder.embed(X)
    assert whole.shape == (5, 32) and whole.dtype == np.float32
    one_by_one = np.concatenate([tiny_encoder.embed(X[i:i + 1]) for i in range(5)])
    assert np.array_equal(whole, one_by_one)
    reordered = tiny_encoder.embed(X[::-1])[::-1]
    assert np.array_equal(whole, reordered)


@needs_weights
def test_aisfx_embeddings_do_not_depend_on_batching():
    enc = get_encoder("aisfx")
    X = make_clips([0, 5, 1], seed=5, tag="aisfx_batch")
    whole = enc.embed(X)
    assert whole.shape == (3, 512)
    assert np.array_equal(whole, np.concatenate([enc.embed(X[i:i + 1]) for i in range(3)]))


def test_cache_second_run_does_not_embed_and_a_changed_dataset_does(tiny_encoder, tmp_path, monkeypatch):
    monkeypatch.setattr("gunshot_bench.encoders.cache.CHUNK", 3)
    X = make_clips([0, 1, 2, 3], seed=6, tag="cache")
    first = EmbeddingCache(tiny_encoder, tmp_path / "emb")
    E = first.embed(X)
    assert tiny_encoder.calls == 4 and len(list(first.directory.glob("*.npz"))) == 2  # chunks of 3: 2 shards
    assert np.array_equal(E, tiny_encoder.embed(X)) and tiny_encoder.calls == 8  # cached = computed
    tiny_encoder.calls = 0
    again = EmbeddingCache(tiny_encoder, tmp_path / "emb")  # a new process reads the disk
    assert np.array_equal(again.embed(X), E) and tiny_encoder.calls == 0
    assert np.array_equal(again.embed(X[[2, 0]]), E[[2, 0]]) and tiny_encoder.calls == 0  # a subset (another task)
    changed = X.copy()
    changed[1, 1000] += 0.01  # one clip of the dataset changed
    E2 = again.embed(changed)
    assert tiny_encoder.calls == 1 and not np.array_equal(E2[1], E[1])
    np.testing.assert_array_equal(E2[[0, 2, 3]], E[[0, 2, 3]])


def test_cache_is_per_encoder_weights(tiny_encoder, tmp_path):
    from tests.encoder_fixtures import CountingEncoder

    other = CountingEncoder("tiny_test_encoder", SR, 102400, 32, tiny_net(seed=1), aisfx.frontend)
    assert other.cache_key != tiny_encoder.cache_key  # same name, other weights
    X = make_clips([0], seed=7, tag="keys")
    EmbeddingCache(tiny_encoder, tmp_path / "emb").embed(X)
    EmbeddingCache(other, tmp_path / "emb").embed(X)
    assert other.calls == 1


def test_onnx_encoder_declares_its_interface(tmp_path):
    pytest.importorskip("onnxruntime", reason="ONNX encoders need onnxruntime (the pretrained extra)")
    pytest.importorskip("onnx", reason="exporting the test network needs onnx (the test extra)")

    class Net(torch.nn.Module):  # 4 band energies of a 1000-sample waveform block
        def forward(self, x):
            return torch.stack([x[:, k::4].pow(2).mean(1) for k in range(4)], dim=1)

    path = tmp_path / "enc.onnx"
    torch.onnx.export(Net(), (torch.zeros(1, 1000),), str(path), dynamo=False, input_names=["audio"],
                      dynamic_axes={"audio": {0: "batch"}})
    enc = OnnxEncoder(path, sample_rate=16000, block_length=1000)
    assert enc.embedding_size == 4
    x = derive_rng(0, "onnx").standard_normal((2, 2500)).astype(np.float32)
    expected = [Net()(torch.from_numpy(waveform_blocks(c, 1000))).mean(0).numpy() for c in x]
    np.testing.assert_allclose(enc.embed(x), np.stack(expected), rtol=1e-5)
    register_encoder("onnx_test", lambda: enc)
    try:  # resampled from 44.1 kHz by the cache before embedding
        E = EmbeddingCache(enc, tmp_path / "emb").embed(x[:, :2205].repeat(20, axis=1)[:, :4410])
        assert E.shape == (2, 4)
    finally:
        unregister_encoder("onnx_test")


def test_encoders_command_lists_status(monkeypatch, tmp_path, capsys):
    from gunshot_bench.cli import main

    monkeypatch.setenv(aisfx.CHECKPOINT_ENV, str(tmp_path / "absent.pth"))
    assert main(["encoders", "list"]) == 0
    out = capsys.readouterr().out
    assert "aisfx: unavailable:" in out and "encoders install aisfx" in out
    assert main(["encoders", "install", "other"]) == 2  # a user error, one line
    assert "only the aisfx weights" in capsys.readouterr().err
