"""Study A's AudioResNet over the log-STFT, and the flat (one 32-way model) variant.

Stem: 7x7 convolution (stride `stem_stride`) + batch norm + ReLU + 3x3 stride-2 max pool;
then stages of residual blocks (two 3x3 convolutions with batch norm and a skip connection;
the first block of every stage but the first halves the resolution); global average pooling; a linear layer
giving logits (softmax only at inference). Width and depth are hyperparameters. The default
(`DEFAULT_NET`) uses a stride-4 stem: the profiler showed that with the usual stride-2 stem
~60 % of a training step goes to batch norm, ReLU and max pool over the stem's 256 x 173 maps
(memory-bound passes), and a stride-4 stem cuts those maps 4x; see docs/models.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from gunshot_bench.models.registry import register
from gunshot_bench.models.torch_base import TorchClassifier
from gunshot_bench.train_config import TRAIN_DEFAULTS as _D  # study A's protocol, defined once


#: The default network: 4 stages of 16/32/64/128 channels, stride-4 stem (40 MFLOPs, 309k
#: parameters per network; ~460 training samples/s with bfloat16 autocast on 2 cores).
DEFAULT_NET = {"channels": (16, 32, 64, 128), "blocks_per_stage": 1, "first_stride": 2, "stem_stride": 4}


class ResidualBlock(nn.Module):
    """Two 3x3 conv + BN layers with an identity (or 1x1 projection) skip connection."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.skip = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.skip = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                      nn.BatchNorm2d(out_ch))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.skip(x))


class AudioResNet(nn.Module):
    """The network: `[batch, 1, freq, time]` log-STFT -> `[batch, n_classes]` logits.

    Args:
        n_classes: output classes.
        channels: width of each stage (the stem has `channels[0]`).
        blocks_per_stage: residual blocks in each stage.
        first_stride: stride of the first stage (2 makes the network ~4x cheaper on CPU).
        stem_stride: stride of the stem's 7x7 convolution (2 in the classic ResNet).
    """

    def __init__(self, n_classes: int, channels: Sequence[int] = DEFAULT_NET["channels"],
                 blocks_per_stage: int = 1, first_stride: int = 2,
                 stem_stride: int = DEFAULT_NET["stem_stride"]):
        super().__init__()
        channels = [int(c) for c in channels]
        if (not channels or min(channels) < 1 or blocks_per_stage < 1 or n_classes < 1
                or stem_stride < 1 or first_stride < 1):
            raise ValueError(f"AudioResNet needs channels, blocks_per_stage, n_classes and strides "
                             f">= 1, got {channels}, {blocks_per_stage}, {n_classes}, "
                             f"{stem_stride}, {first_stride}")
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels[0], 7, int(stem_stride), 3, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        layers, in_ch = [], channels[0]
        for i, ch in enumerate(channels):
            for b in range(blocks_per_stage):
                stride = (first_stride if i == 0 else 2) if b == 0 else 1
                layers.append(ResidualBlock(in_ch, ch, stride))
                in_ch = ch
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, n_classes)
        # Channels-last makes the stem's max pool ~7x faster on CPU (measured: 0.8 vs 6.6 ms per
        # clip). torch 2.13 CPU segfaults in the backward pass of a channels-last stem whose
        # width is not a multiple of 16 (seen with 8), so those widths stay in NCHW.
        self.channels_last = channels[0] % 16 == 0
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def folded_for_inference(self) -> "AudioResNet":
        """An eval-mode copy with every batch norm folded into the convolution before it."""
        net = copy.deepcopy(self).eval()
        net.stem[0] = fuse_conv_bn_eval(net.stem[0], net.stem[1])
        net.stem[1] = nn.Identity()
        for block in net.stages:
            block.conv1, block.bn1 = fuse_conv_bn_eval(block.conv1, block.bn1), nn.Identity()
            block.conv2, block.bn2 = fuse_conv_bn_eval(block.conv2, block.bn2), nn.Identity()
            if isinstance(block.skip, nn.Sequential):
                block.skip = fuse_conv_bn_eval(block.skip[0], block.skip[1])
        return net

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


@register("audioresnet_flat")
class AudioResNetClassifier(TorchClassifier):
    """One AudioResNet over all classes in `y` (32 models for the flat baseline).

    Hyperparameters: the network's `channels`, `blocks_per_stage`, `first_stride`,
    `stem_stride`; study A's training protocol (`lr`, `weight_decay`, `batch_size`,
    `max_epochs`, `early_stopping_patience`, `lr_factor`, `lr_patience`); `precision` of the
    training forward pass (see `TorchClassifier`); `normalization` ("train": the training
    split's mean/std, "paper": 0.1877/0.4756); `random_state`; `progress`.
    """

    def __init__(self, channels=DEFAULT_NET["channels"], blocks_per_stage=1, first_stride=2,
                 stem_stride=DEFAULT_NET["stem_stride"], lr=_D.lr, weight_decay=_D.weight_decay,
                 batch_size=_D.batch_size, max_epochs=_D.max_epochs,
                 early_stopping_patience=_D.early_stopping_patience, lr_factor=_D.lr_factor,
                 lr_patience=_D.lr_patience, precision="auto", normalization=_D.normalization, random_state=0,
                 progress=False):
        self.channels = channels
        self.blocks_per_stage = blocks_per_stage
        self.first_stride = first_stride
        self.stem_stride = stem_stride
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping_patience = early_stopping_patience
        self.lr_factor = lr_factor
        self.lr_patience = lr_patience
        self.precision = precision
        self.normalization = normalization
        self.random_state = random_state
        self.progress = progress

    def _build_net(self, n_classes: int) -> nn.Module:
        return AudioResNet(n_classes, self.channels, self.blocks_per_stage, self.first_stride,
                           self.stem_stride)
