"""Each fast path gives the plain path's results: features, folded networks, channels-last,
bfloat16 training, engines."""

import librosa
import numpy as np
import pytest
import torch

from gunshot_bench.features import CLIP_SAMPLES, SAMPLE_RATE, _hann_np, fix_length, log_stft
from gunshot_bench.models import get
from gunshot_bench.models.audioresnet import AudioResNet
from gunshot_bench.models.torch_base import autocast_dtype
from gunshot_bench.rng import derive_rng

torch.set_num_threads(1)


def _clips(n, seed=0):
    rng = derive_rng(seed, "fastpaths")
    X = 0.01 * rng.standard_normal((n, CLIP_SAMPLES))
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    for i in range(n):  # a decaying tone at a clip-specific frequency and onset
        onset = rng.uniform(0.1, 1.5)
        env = np.where(t >= onset, np.exp(-(t - onset) / 0.05), 0.0)
        X[i] += 0.5 * env * np.sin(2 * np.pi * rng.uniform(100, 15_000) * t)
    return X.astype(np.float32)


def _reference(X):
    return np.stack([np.log1p(np.abs(librosa.stft(x, n_fft=1024, hop_length=256)))[1:] for x in X])


@pytest.mark.parametrize("n, batch_size", [(1, 4), (5, 2), (7, 4), (3, 16)])
def test_log_stft_matches_librosa_reference(n, batch_size):
    """Every chunking (a partial last chunk included) reproduces per-clip librosa to 1e-5."""
    X = _clips(n, seed=n)
    ref = _reference(X)
    out = log_stft(X, batch_size=batch_size)
    assert out.shape == ref.shape == (n, 512, 345)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # the loud tone's bin really carries energy: the comparison is not between near-zero arrays
    assert ref.max() > 3.0


def test_log_stft_single_clip_short_clip_and_threads():
    X = _clips(2, seed=9)
    np.testing.assert_allclose(log_stft(X[0]), _reference(X[:1])[0], atol=1e-5)
    short = X[1, :50_000]  # zero-padded to 2.0 s, as study A fixes every clip's length
    padded = np.zeros(CLIP_SAMPLES, np.float32)
    padded[:50_000] = short
    np.testing.assert_allclose(log_stft(short), _reference(padded[None])[0], atol=1e-5)
    np.testing.assert_array_equal(log_stft(X, workers=2), log_stft(X, workers=1))


def test_fix_length_and_window_are_librosa_s_exactly():
    """Written without librosa (its util and filters modules import numba): bit-identical."""
    rng = derive_rng(0, "fix_length")
    for shape in [(CLIP_SAMPLES,), (3, 50_000), (2, CLIP_SAMPLES), (2, 100_000), (1, CLIP_SAMPLES - 1), (0,)]:
        x = rng.standard_normal(shape).astype(np.float32)
        ours, theirs = fix_length(x), librosa.util.fix_length(x, size=CLIP_SAMPLES, axis=-1)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(
        _hann_np(1024), librosa.filters.get_window("hann", 1024, fftbins=True).astype(np.float32))


def test_log_stft_float16_is_the_rounded_float32():
    X = _clips(2, seed=3)
    full = log_stft(X)
    half = log_stft(X, dtype=np.float16)
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, full.astype(np.float16))


def _trained_like_net(channels):
    """A network whose batch norms hold non-trivial running statistics, as after training."""
    torch.manual_seed(0)
    net = AudioResNet(5, channels)
    net.train()
    with torch.no_grad():
        for s in range(3):
            net(torch.from_numpy(log_stft(_clips(4, seed=10 + s))).unsqueeze(1) * 2.0 - 0.5)
    return net.eval()


@pytest.mark.parametrize("channels", [(16, 32, 64), (8, 16, 16)])
def test_folded_network_matches_trained_network(channels):
    net = _trained_like_net(channels)
    assert net.channels_last == (channels[0] % 16 == 0)
    x = torch.from_numpy(log_stft(_clips(3, seed=20))).unsqueeze(1)
    with torch.inference_mode():
        plain = net(x)
        folded = net.folded_for_inference()(x)
    torch.testing.assert_close(folded, plain, atol=1e-4, rtol=1e-4)
    assert plain.std() > 1e-3  # the logits differ between clips/classes: a real comparison


def test_channels_last_training_step_matches_nchw():
    """Channels-last gives the NCHW loss and gradients of a training step (float rounding)."""
    nets = []
    for channels_last in (True, False):
        torch.manual_seed(1)
        net = AudioResNet(4, (16, 16, 16))
        if not channels_last:
            net.channels_last = False
            net = net.to(memory_format=torch.contiguous_format)
        nets.append(net)
    x = torch.from_numpy(log_stft(_clips(4, seed=30))).unsqueeze(1)
    y = torch.tensor([0, 1, 2, 3])
    losses = []
    for net in nets:
        net.train()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        losses.append(float(loss.detach()))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for (name, a), (_, b) in zip(nets[0].named_parameters(), nets[1].named_parameters()):
        scale = float(b.grad.abs().max())
        assert scale > 0, name
        # summation order differs between the layouts: float32 rounding of ~1e-3 of the largest
        torch.testing.assert_close(a.grad.contiguous(), b.grad.contiguous(), atol=3e-3 * scale,
                                   rtol=0, msg=name)
        cosine = torch.nn.functional.cosine_similarity(a.grad.flatten(), b.grad.flatten(), 0)
        assert cosine > 0.9999, name


def test_precision_setting_is_checked():
    assert autocast_dtype("fp32") is None
    assert autocast_dtype("bf16") is torch.bfloat16
    assert autocast_dtype("auto") in (None, torch.bfloat16)
    with pytest.raises(ValueError, match="precision"):
        autocast_dtype("fp16")


def test_bfloat16_training_step_matches_float32():
    """The bf16-autocast step gives the float32 loss and gradient directions (bf16 rounding)."""
    torch.manual_seed(2)
    net = AudioResNet(4, (16, 32, 64))
    x = torch.from_numpy(log_stft(_clips(8, seed=40))).unsqueeze(1)
    x = (x - x.mean()) / x.std()
    y = torch.tensor([0, 1, 2, 3] * 2)
    grads, losses = [], []
    for amp in (False, True):
        net.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits = net(x)
        assert logits.dtype == (torch.bfloat16 if amp else torch.float32)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        loss.backward()
        losses.append(float(loss.detach()))
        grads.append({n: p.grad.detach().clone() for n, p in net.named_parameters()})
    assert losses[1] == pytest.approx(losses[0], rel=2e-2)
    cos = torch.nn.functional.cosine_similarity
    for name, g32 in grads[0].items():
        g16 = grads[1][name]
        assert g32.abs().max() > 0, name
        # bf16 keeps 8 significant bits: per tensor, directions agree to a few percent
        assert cos(g32.flatten(), g16.flatten(), 0) > 0.95, name
    flat = [torch.cat([g.flatten() for g in gs.values()]) for gs in grads]
    assert cos(flat[0], flat[1], 0) > 0.98


def test_bfloat16_training_learns_what_float32_learns():
    """Same seed and data, both precisions: the same held-out accuracy on a learnable task."""
    X, y = _tones(6, seed=50)
    Xt, yt = _tones(4, seed=51)
    scores = {}
    for precision in ("fp32", "bf16"):
        model = get("audioresnet_flat", channels=(16, 32), max_epochs=8, batch_size=4,
                    precision=precision, random_state=0).fit(X, y, Xt, yt)
        scores[precision] = float((model.predict(Xt) == yt).mean())
    assert scores["fp32"] >= 0.9, scores  # the task is learnable: the comparison means something
    assert scores["bf16"] >= scores["fp32"] - 0.1, scores


def _tones(n_per_class, seed, freqs=(300, 1200, 4000, 9000)):
    """Four classes: a decaying tone at the class's frequency, random onset, in noise."""
    rng = derive_rng(seed, "tones")
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    X, y = [], []
    for label, f in enumerate(freqs):
        for _ in range(n_per_class):
            onset = rng.uniform(0.1, 1.5)
            env = np.where(t >= onset, np.exp(-(t - onset) / 0.08), 0.0)
            X.append(0.01 * rng.standard_normal(CLIP_SAMPLES) + 0.5 * env * np.sin(2 * np.pi * f * t))
            y.append(label)
    return np.asarray(X, np.float32), np.asarray(y)
