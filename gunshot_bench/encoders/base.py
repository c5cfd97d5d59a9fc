"""What every audio encoder is: a pure map from one clip to one embedding vector.

An encoder declares its name, the sample rate it expects, the length of one input block in
samples and the size of its embedding. `embed(waveforms)` turns clips (float32 `[n, samples]`
at `sample_rate`) into float32 `[n, embedding_size]`; each row depends on its clip alone, so
batching never changes a value (the network runs in eval mode and every block of a clip is
pooled within that clip).

Two ready-made shapes cover most pretrained models:

- `TorchEncoder`: a `torch.nn.Module` plus a front end (clip -> network input blocks);
- `OnnxEncoder`: an ONNX file run with onnxruntime (raw waveform blocks, or a front end).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gunshot_bench.errors import UserError


class EncoderUnavailable(UserError):
    """The encoder cannot be built here (weights or an optional extra not installed)."""


def waveform_blocks(clip: np.ndarray, block_length: int) -> np.ndarray:
    """Consecutive non-overlapping blocks `[n_blocks, block_length]` of a clip, the last zero-padded.

    A clip shorter than one block gives one zero-padded block.
    """
    clip = np.asarray(clip, dtype=np.float32).ravel()
    n_blocks = max(1, -(-len(clip) // block_length))
    out = np.zeros((n_blocks, block_length), np.float32)
    out.reshape(-1)[:len(clip)] = clip
    return out


class Encoder(ABC):
    """A frozen pretrained encoder. Subclasses set the four attributes and implement `embed`.

    Attributes:
        name: registry name.
        sample_rate: sample rate of the clips `embed` expects (Hz).
        block_length: samples of audio that make one input block of the network.
        embedding_size: length of one embedding.
    """

    name: str = "?"
    sample_rate: int = 44100
    block_length: int = 88200
    embedding_size: int = 0

    @abstractmethod
    def embed(self, waveforms: np.ndarray) -> np.ndarray:
        """float32 `[n, embedding_size]` embeddings of clips `[n, samples]` at `sample_rate`."""

    @property
    def cache_key(self) -> str:
        """Identifies the encoder's exact weights and front end in the embedding cache."""
        return f"{self.name}-{self.weights_digest()[:16]}"

    def weights_digest(self) -> str:
        """Hex digest of what determines the output (weights); subclasses say what that is."""
        return hashlib.sha256(self.name.encode()).hexdigest()

    def describe(self) -> dict:
        """The declared interface, for result files and `gunshot-bench encoders list`."""
        return {"name": self.name, "sample_rate": self.sample_rate, "block_length": self.block_length,
                "embedding_size": self.embedding_size, "cache_key": self.cache_key}


class TorchEncoder(Encoder):
    """A torch module over front-end blocks; a clip's embedding is the mean over its blocks.

    Args:
        name, sample_rate, block_length, embedding_size: the declared interface.
        module: maps a batch of blocks `[B, *block_shape]` to `[B, embedding_size]`.
        frontend: maps one clip (1-D float32 at `sample_rate`) to its blocks `[n_blocks, *block_shape]`;
            default: raw waveform blocks of `block_length` samples.

    Each clip runs through the network on its own: a batched convolution may take another
    algorithm and change the last bits of a clip's embedding with its batch mates, and on a CPU
    one clip at a time is no slower (aiSFX: 0.25 s per clip alone, 0.37 s in batches of 16).
    """

    def __init__(self, name: str, sample_rate: int, block_length: int, embedding_size: int,
                 module: torch.nn.Module, frontend: Callable[[np.ndarray], np.ndarray] | None = None):
        self.name, self.sample_rate, self.block_length = name, int(sample_rate), int(block_length)
        self.embedding_size = int(embedding_size)
        self.module = module.eval()
        self.frontend = frontend or (lambda clip: waveform_blocks(clip, self.block_length))

    def weights_digest(self) -> str:
        h = hashlib.sha256(self.name.encode())
        for key, value in sorted(self.module.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def blocks(self, waveforms: np.ndarray) -> list[np.ndarray]:
        """The front end of every clip (a list: clips may have different block counts)."""
        return [np.asarray(self.frontend(clip), dtype=np.float32) for clip in np.atleast_2d(waveforms)]

    def forward_blocks(self, blocks: list[np.ndarray], *, grad: bool = False) -> torch.Tensor:
        """Embeddings `[len(blocks), embedding_size]` of front-end outputs (mean over each clip's blocks)."""
        counts = [len(b) for b in blocks]
        x = torch.from_numpy(np.concatenate(blocks))
        with torch.set_grad_enabled(grad):
            z = self.module(x)
        return torch.stack([part.mean(0) for part in torch.split(z, counts)])

    def embed(self, waveforms: np.ndarray) -> np.ndarray:
        waveforms = np.atleast_2d(np.asarray(waveforms, dtype=np.float32))
        out = np.zeros((len(waveforms), self.embedding_size), np.float32)
        self.module.eval()
        for i, clip in enumerate(waveforms):
            out[i] = self.forward_blocks(self.blocks(clip[None])).numpy()[0]
        return out


class OnnxEncoder(Encoder):
    """An ONNX model run with onnxruntime (the `pretrained` or `onnx` extra).

    The model's first input takes a batch of blocks: raw waveform blocks `[B, block_length]`
    by default, or whatever `frontend` returns per clip. Its first output is `[B, D]`; a clip's
    embedding is the mean over its blocks.

    Raises:
        EncoderUnavailable: onnxruntime is not installed.
        FileNotFoundError: no ONNX file at `path`.
    """

    def __init__(self, path: str | Path, sample_rate: int, block_length: int, name: str = "onnx",
                 frontend: Callable[[np.ndarray], np.ndarray] | None = None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EncoderUnavailable("ONNX encoders need onnxruntime: pip install -e '.[pretrained]'") from exc
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such ONNX encoder file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # leaderboard workers are single-threaded by design
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.name, self.sample_rate, self.block_length = name, int(sample_rate), int(block_length)
        self.frontend = frontend or (lambda clip: waveform_blocks(clip, self.block_length))
        self.embedding_size = int(self._run(self.frontend(np.zeros(self.block_length, np.float32))).shape[1])

    def _run(self, blocks: np.ndarray) -> np.ndarray:
        name = self.session.get_inputs()[0].name
        return np.asarray(self.session.run(None, {name: blocks.astype(np.float32)})[0])

    def weights_digest(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def embed(self, waveforms: np.ndarray) -> np.ndarray:
        rows = [self._run(np.asarray(self.frontend(clip))).mean(0) for clip in np.atleast_2d(waveforms)]
        return np.asarray(rows, np.float32).reshape(len(rows), self.embedding_size)
