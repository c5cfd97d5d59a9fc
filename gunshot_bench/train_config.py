"""Study A's training protocol, defined once: `TrainConfig` and its defaults.

The neural models (AudioResNet flat and two-stage, the CNN) take these defaults as their
constructor defaults, `train.split_overrides` builds a `TrainConfig` from a baseline's
overrides, and a run saves it in its `config.json`. This module imports nothing from the
package, so the models can read it without importing the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from gunshot_bench.errors import UserError


@dataclass(frozen=True)
class TrainConfig:
    """Study A's training protocol (the defaults); neural models only, classical ones ignore it."""

    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 32
    max_epochs: int = 60
    early_stopping_patience: int = 15
    lr_factor: float = 0.5
    lr_patience: int = 3
    normalization: str = "train"
    #: intra-op threads of the run (torch, BLAS): fixed by the config, not by the caller, since
    #: another thread count sums floats in another order and trains other weights
    threads: int = 1

    def __post_init__(self):
        if not (self.lr > 0 and self.weight_decay >= 0 and 0 < self.lr_factor < 1):
            raise UserError(f"TrainConfig: need lr > 0, weight_decay >= 0, 0 < lr_factor < 1: {self}")
        if min(self.batch_size, self.max_epochs, self.early_stopping_patience) < 1 or self.lr_patience < 0:
            raise UserError(f"TrainConfig: batch_size, max_epochs and patience must be >= 1: {self}")
        if self.threads < 1:
            raise UserError(f"TrainConfig.threads must be >= 1, got {self.threads}")
        if self.normalization not in ("train", "paper"):
            raise UserError(f"TrainConfig.normalization must be 'train' or 'paper', got {self.normalization!r}")


#: The defaults every neural model's constructor reads (one place to change study A's protocol).
TRAIN_DEFAULTS = TrainConfig()
