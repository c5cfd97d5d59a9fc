"""Study B's plain CNN: convolution, ReLU, max pooling, a dense layer, softmax at inference.

Study B's own text names two defects that this version avoids: the network outputs logits and
is trained with `CrossEntropyLoss` (which applies log-softmax itself; feeding it probabilities
squashes the gradients), and early stopping watches VALIDATION accuracy, not training accuracy
(see `TorchClassifier`). Input: the same standardised log-STFT as AudioResNet, average-pooled
by `input_pool` first so the network stays cheap on CPU.
"""

from __future__ import annotations

from torch import nn

from gunshot_bench.models.registry import register
from gunshot_bench.models.torch_base import TorchClassifier
from gunshot_bench.train_config import TRAIN_DEFAULTS as _D  # study A's protocol, defined once


class PlainCNN(nn.Module):
    """`[batch, 1, freq, time]` -> logits: (conv 3x3, ReLU, max pool 2) per stage, dense, dense."""

    def __init__(self, n_classes: int, channels=(16, 32, 32), dense_units: int = 64,
                 dropout: float = 0.3, input_pool: int = 4):
        super().__init__()
        layers: list[nn.Module] = [nn.AvgPool2d(input_pool)] if input_pool > 1 else []
        in_ch = 1
        for i, ch in enumerate(channels):
            layers += [nn.Conv2d(in_ch, int(ch), 3, padding=1), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2) if i < len(channels) - 1 else nn.AdaptiveMaxPool2d(4))
            in_ch = int(ch)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(in_ch * 16, dense_units), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(dense_units, n_classes))

    def forward(self, x):
        return self.classifier(self.features(x))  # logits; softmax in predict_proba only


@register("cnn")
class CNNClassifier(TorchClassifier):
    """Study B's CNN with study A's training protocol (see `AudioResNetClassifier`)."""

    def __init__(self, channels=(16, 32, 32), dense_units=64, dropout=0.3, input_pool=4,
                 lr=_D.lr, weight_decay=_D.weight_decay, batch_size=_D.batch_size, max_epochs=_D.max_epochs,
                 early_stopping_patience=_D.early_stopping_patience, lr_factor=_D.lr_factor,
                 lr_patience=_D.lr_patience, precision="auto", normalization=_D.normalization, random_state=0,
                 progress=False):
        self.channels = channels
        self.dense_units = dense_units
        self.dropout = dropout
        self.input_pool = input_pool
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
        return PlainCNN(n_classes, self.channels, self.dense_units, self.dropout, self.input_pool)
