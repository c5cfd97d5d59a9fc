"""A tiny randomly initialised encoder registered for tests (the real aiSFX weights are not needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gunshot_bench.encoders import TorchEncoder, register_encoder, unregister_encoder
from gunshot_bench.encoders import aisfx
from gunshot_bench.rng import derive_rng

TINY = "tiny_test_encoder"
TINY_WIDTH = 4  # AisfxNet(4): 32-d embeddings


def tiny_net(seed: int = 0) -> torch.nn.Module:
    """aiSFX's network at width 4 with every weight drawn from a seeded generator."""
    net = aisfx.AisfxNet(width=TINY_WIDTH)
    gen = torch.Generator().manual_seed(int(derive_rng(seed, "tiny_net").integers(2**31)))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.ndim > 1:  # He initialisation, as the network was built for ReLUs
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) * np.sqrt(2.0 / fan_in))
    return net.eval()


class CountingEncoder(TorchEncoder):
    """Counts the clips it embeds (to see whether the cache was used)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def embed(self, waveforms):
        self.calls += len(np.atleast_2d(waveforms))
        return super().embed(waveforms)


@pytest.fixture
def tiny_encoder(tmp_path, monkeypatch):
    """Registers `TINY` and points the embedding cache at `tmp_path`; yields the encoder."""
    monkeypatch.setenv("GUNSHOT_BENCH_CACHE", str(tmp_path / "cache"))
    encoder = CountingEncoder(TINY, aisfx.SAMPLE_RATE, aisfx.BLOCK_FRAMES * aisfx.HOP_LENGTH, 8 * TINY_WIDTH,
                              tiny_net(), aisfx.frontend)
    register_encoder(TINY, lambda: encoder)
    yield encoder
    unregister_encoder(TINY)
