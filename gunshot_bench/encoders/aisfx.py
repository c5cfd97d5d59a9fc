"""aiSFX (Ma & Lerch, ISMIR 2022): 512-d embeddings of ~2.3 s blocks of 44.1 kHz audio.

The network is the paper's best model, X-Sequential-CE: a 9-layer CNN (after the DCASE
cross-task baseline) trained across sound-effects libraries labelled with the Universal
Category System, which has firearm categories. Its code is MIT; its weights are CC BY 4.0,
by A. B. Ma and A. Lerch. Cite:

    Ma, A. B. and Lerch, A. (2022). Representation Learning for the Automatic Indexing of Sound
    Effects Libraries. Proc. 23rd ISMIR, 866-875.

Why the network is defined here and only the checkpoint is read from the `aisfx` package:
`aisfx` 0.1.2 pins numpy 1.23 and librosa 0.9.2, which conflict with this package's pins,
so pip cannot install it as a normal dependency. It is installed with `--no-deps`
(`gunshot-bench encoders install aisfx`, or `pip install --no-deps aisfx==0.1.2`), nothing of
its code is imported, and its `models/checkpoint.pth` (sha256 pinned below) is read with the
safe loader. The network below is a transcription of `aisfx/models/cnn2d.py::EmbeddingNet`
with its state dict keys.

Front end: the package's librosa path (`aisfx/spectrogram/spectrogram_librosa.py`) on the
clip, then its min-max normalisation with the paper's constants (`aisfx/preprocessing.py`)
and its blocking (100 frames, hop 50, partial blocks dropped, at least one zero-padded block).
The package's librosa function returns `[mel, time]` while its network takes `[time, mel]`
(the Essentia path it was trained with returns `[time, mel]`), so the spectrogram is
transposed before blocking.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gunshot_bench.encoders.base import TorchEncoder
from gunshot_bench.encoders.registry import register_encoder
from gunshot_bench.encoders.weights import UnsafeCheckpoint, file_sha256, safe_load

SAMPLE_RATE = 44100
N_FFT, HOP_LENGTH, N_MELS = 2048, 1024, 96
F_MIN_HZ, F_MAX_HZ = 0.0, 22050.0
#: The paper's min-max normalisation: range of all its spectrograms (aisfx/preprocessing.py).
NORM_MIN, NORM_MAX = 0.0, 9.457798957824707
BLOCK_FRAMES, BLOCK_HOP_FRAMES = 100, 50
EMBEDDING_SIZE = 512
PIP_SPEC = "aisfx==0.1.2"
CHECKPOINT_SHA256 = "499ea75909c932a2f94c35fa722fa4fabc5bcb7e84917209cc5f7402627b7eb5"
#: Set to read the checkpoint from another place than the installed `aisfx` package.
CHECKPOINT_ENV = "GUNSHOT_BENCH_AISFX_CHECKPOINT"
INSTALL_HINT = ("install the `pretrained` extra and the aiSFX weights: pip install -e '.[pretrained]' "
                "&& gunshot-bench encoders install aisfx")
CREDITS = ("aiSFX encoder: A. B. Ma and A. Lerch, 'Representation Learning for the Automatic Indexing "
           "of Sound Effects Libraries', ISMIR 2022; code MIT, weights CC BY 4.0 (aisfx 0.1.2 on PyPI)")


# ---------------------------------------------------------------------------- front end


def melspec(clip: np.ndarray) -> np.ndarray:
    """aiSFX's librosa log-mel spectrogram `[96, frames]` of one 44.1 kHz clip.

    Peak normalisation (silence left as is), power mel spectrogram with 96 HTK bands whose
    filters sum to one (librosa `norm=1.0`, Essentia's `unit_sum`), n_fft 2048, hop 1024,
    centred frames with zero padding, then log10(1 + 10^4 S).
    """
    y = np.asarray(clip, dtype=np.float32).ravel()
    peak = np.max(np.abs(y)) if len(y) else 0.0
    y = y / (peak if peak != 0 else 1)
    spec = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_mels=N_MELS, norm=1.0, fmin=F_MIN_HZ,
                                          fmax=F_MAX_HZ, htk=True, power=2.0, hop_length=HOP_LENGTH,
                                          win_length=N_FFT)
    return np.log10(spec * 10000.0 + 1)


def normalise(spec: np.ndarray) -> np.ndarray:
    """The paper's min-max normalisation with its fixed range (not the clip's own range)."""
    return (spec - NORM_MIN) / (NORM_MAX - NORM_MIN)


def blocks(spec_time_mel: np.ndarray) -> np.ndarray:
    """aiSFX's blocking of a `[time, mel]` spectrogram: `[n_blocks, 100, 96]` float32."""
    n = spec_time_mel.shape[0]
    n_blocks = int(np.ceil((n - BLOCK_FRAMES) / BLOCK_HOP_FRAMES + 1))
    if (n - BLOCK_FRAMES) % BLOCK_HOP_FRAMES != 0:  # their drop_partial_block=True
        n_blocks -= 1
    n_blocks = max(n_blocks, 1)
    padded = np.vstack((spec_time_mel, np.zeros((BLOCK_FRAMES, spec_time_mel.shape[1]))))
    return np.stack([padded[i * BLOCK_HOP_FRAMES:i * BLOCK_HOP_FRAMES + BLOCK_FRAMES]
                     for i in range(n_blocks)]).astype(np.float32)


def frontend(clip: np.ndarray) -> np.ndarray:
    """Network input blocks `[n_blocks, 100, 96]` of one 44.1 kHz clip (1 block for a 2 s clip)."""
    return blocks(normalise(melspec(clip)).T)


# ------------------------------------------------------------------------------ network


class _ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(c_out), nn.BatchNorm2d(c_out)

    def forward(self, x, pool: int):
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.max_pool2d(x, kernel_size=pool)


class AisfxNet(nn.Module):
    """aiSFX's EmbeddingNet('max', 3, 1, 64): `[B, time, mel]` -> `[B, 512]`.

    Four blocks of two 3x3 conv + BN + ReLU (64/128/256/512 channels) with 2x2 max pooling
    after the first three, mean over mel, max over time.
    """

    def __init__(self, width: int = 64):
        super().__init__()
        self.conv_block1 = _ConvBlock(1, width)
        self.conv_block2 = _ConvBlock(width, width * 2)
        self.conv_block3 = _ConvBlock(width * 2, width * 4)
        self.conv_block4 = _ConvBlock(width * 4, width * 8)

    def forward(self, x):
        x = x.unsqueeze(1)
        for block, pool in ((self.conv_block1, 2), (self.conv_block2, 2), (self.conv_block3, 2),
                            (self.conv_block4, 1)):
            x = block(x, pool)
        return x.mean(dim=3).amax(dim=2)


# ------------------------------------------------------------------------------ weights


def checkpoint_path() -> Path | None:
    """Where the aiSFX checkpoint is: `$GUNSHOT_BENCH_AISFX_CHECKPOINT`, else the installed
    `aisfx` package's `models/checkpoint.pth` (found without importing the package)."""
    if os.environ.get(CHECKPOINT_ENV):
        return Path(os.environ[CHECKPOINT_ENV])
    spec = importlib.util.find_spec("aisfx")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models" / "checkpoint.pth"


def unavailable_reason() -> str | None:
    """None when the checkpoint is installed, else what to install."""
    path = checkpoint_path()
    if path is None:
        return f"the aisfx package is not installed; {INSTALL_HINT}"
    if not path.is_file():
        return f"{path}: no aiSFX checkpoint there; {INSTALL_HINT}"
    return None


def _numpy_globals() -> list:
    # The checkpoint's dataset table holds numpy int64 scalars pickled under numpy 1.x names.
    return [(np._core.multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]


def load_weights(path: str | Path, verify: bool = True) -> dict[str, torch.Tensor]:
    """The EmbeddingNet weights of an aiSFX checkpoint (classifier heads dropped).

    Raises:
        UnsafeCheckpoint: not the released checkpoint (digest), or not plain weights.
    """
    path = Path(path)
    if verify and path.is_file() and file_sha256(path) != CHECKPOINT_SHA256:
        raise UnsafeCheckpoint(f"{path}: not the aiSFX 0.1.2 checkpoint (sha256 differs from "
                               f"{CHECKPOINT_SHA256[:12]}...); reinstall with `gunshot-bench encoders install aisfx`")
    obj = safe_load(path, _numpy_globals())
    state = obj[0] if isinstance(obj, (tuple, list)) else obj
    if not isinstance(state, dict):
        raise UnsafeCheckpoint(f"{path}: refused to load: holds a {type(state).__name__}, not a state dict")
    prefix = "embedding_net."
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


@register_encoder("aisfx", unavailable_reason=unavailable_reason)
def build() -> TorchEncoder:
    """The aiSFX encoder with the installed weights."""
    net = AisfxNet()
    net.load_state_dict(load_weights(checkpoint_path()))
    return TorchEncoder("aisfx", SAMPLE_RATE, BLOCK_FRAMES * HOP_LENGTH, EMBEDDING_SIZE, net, frontend)


def install(python: str = sys.executable) -> int:
    """Install the aiSFX package without its dependencies (network: an explicit user command)."""
    return subprocess.call([python, "-m", "pip", "install", "--no-deps", PIP_SPEC])
