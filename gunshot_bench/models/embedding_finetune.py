"""A pretrained encoder fine-tuned with a linear head: the `embedding_finetune` model.

The encoder's weights are trained further at a low learning rate (1e-4 by default, ten times
below the new head's) so that they move only a little from what pretraining learnt. Batch
normalisation keeps its pretrained statistics (the network stays in eval mode): batches of 32
clips of one simulated corpus would otherwise overwrite statistics estimated on large real
libraries. `unfreeze` chooses how much of the encoder trains: "all", or the number of its last
child modules (1 = aiSFX's last conv block), which also cuts the backward pass on a CPU.
Early stopping on validation loss, best epoch kept.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from gunshot_bench.checkpoint import load_state_dict, save_state_dict
from gunshot_bench.encoders import TorchEncoder, encoder_unavailable_reason, get_encoder
from gunshot_bench.models.base import BaseModel
from gunshot_bench.models.registry import register
from gunshot_bench.rng import derive_rng


@register("embedding_finetune")
class EmbeddingFinetune(BaseModel):
    """A torch encoder from `gunshot_bench.encoders` plus a linear head, trained end to end.

    Learned attributes: `module_` (the fine-tuned encoder network), `head_`, `classes_`, `history_`.
    """

    def __init__(self, encoder="aisfx", encoder_params=None, unfreeze="all", encoder_lr=1e-4, head_lr=1e-3,
                 weight_decay=1e-5, batch_size=32, max_epochs=10, early_stopping_patience=3, random_state=0,
                 progress=False):
        self.encoder = encoder
        self.encoder_params = encoder_params
        self.unfreeze = unfreeze
        self.encoder_lr = encoder_lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping_patience = early_stopping_patience
        self.random_state = random_state
        self.progress = progress

    @classmethod
    def unavailable_reason(cls, params: dict) -> str | None:
        return encoder_unavailable_reason(params.get("encoder", "aisfx"))

    def _base(self) -> TorchEncoder:
        enc = get_encoder(self.encoder, **(self.encoder_params or {}))
        if not isinstance(enc, TorchEncoder):
            raise ValueError(f"encoder {self.encoder!r} is not a torch encoder; only those can be fine-tuned")
        return enc

    def _inputs(self, X) -> torch.Tensor:
        blocks = self._base().blocks(np.asarray(X, dtype=np.float32))
        if len({b.shape for b in blocks}) > 1:
            raise ValueError("fine-tuning needs clips of one length (the same number of blocks each)")
        return torch.from_numpy(np.stack(blocks))  # [n, n_blocks, *block_shape]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        n, nb = x.shape[:2]
        z = self.module_(x.reshape(n * nb, *x.shape[2:])).reshape(n, nb, -1).mean(1)
        return self.head_(z)

    def _freeze(self) -> None:
        if self.unfreeze == "all":
            return
        children = list(self.module_.children())
        for child in children[:max(0, len(children) - int(self.unfreeze))]:
            for p in child.parameters():
                p.requires_grad_(False)

    def fit(self, X, y, X_val=None, y_val=None):
        index = torch.from_numpy(self._set_classes(y))
        enc = self._base()
        self.module_ = copy.deepcopy(enc.module).eval()
        gen = torch.Generator().manual_seed(int(derive_rng(self.random_state, "finetune").integers(2**31)))
        self.head_ = nn.Linear(enc.embedding_size, len(self.classes_))
        with torch.no_grad():  # seeded init (never the global torch generator)
            bound = 1 / np.sqrt(enc.embedding_size)
            self.head_.weight.uniform_(-bound, bound, generator=gen)
            self.head_.bias.zero_()
        self._freeze()
        x = self._inputs(X)
        has_val = X_val is not None and y_val is not None and len(y_val) > 0
        if has_val:
            col = {int(c): i for i, c in enumerate(self.classes_)}
            keep = np.array([int(v) in col for v in y_val])
            x_val = self._inputs(np.asarray(X_val)[keep])
            i_val = torch.tensor([col[int(v)] for v in np.asarray(y_val)[keep]], dtype=torch.int64)
            has_val = len(i_val) > 0
        groups = [{"params": [p for p in self.module_.parameters() if p.requires_grad], "lr": self.encoder_lr},
                  {"params": list(self.head_.parameters()), "lr": self.head_lr}]
        opt = torch.optim.Adam(groups, weight_decay=self.weight_decay)
        loss_fn = nn.CrossEntropyLoss()
        self.history_, best, waited = [], (np.inf, None), 0
        for epoch in tqdm(range(self.max_epochs), desc="fine-tune", disable=not self.progress):
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for s in range(0, len(x), self.batch_size):
                idx = order[s:s + self.batch_size]
                opt.zero_grad()
                loss = loss_fn(self._forward(x[idx]), index[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            row = {"epoch": epoch + 1, "train_loss": total / len(x)}
            if has_val:
                logits = self._logits(x_val)
                row["val_loss"] = float(loss_fn(logits, i_val))
                row["val_accuracy"] = float((logits.argmax(1) == i_val).float().mean())
            self.history_.append(row)
            monitored = row.get("val_loss", row["train_loss"])
            if monitored < best[0]:
                best, waited = (monitored, self._state()), 0
            else:
                waited += 1
                if has_val and waited >= self.early_stopping_patience:
                    break
        self._restore(best[1])
        return self

    def _state(self):
        return copy.deepcopy((self.module_.state_dict(), self.head_.state_dict()))

    def _restore(self, state) -> None:
        self.module_.load_state_dict(state[0])
        self.head_.load_state_dict(state[1])

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        # one clip per forward pass: a clip's prediction never depends on its batch mates
        with torch.no_grad():
            return torch.cat([self._forward(x[i:i + 1]) for i in range(len(x))]) \
                if len(x) else torch.zeros((0, len(self.classes_)))

    def predict_proba(self, X) -> np.ndarray:
        return torch.softmax(self._logits(self._inputs(X)), dim=1).numpy().astype(np.float32)

    def complexity(self) -> dict:
        return {"params": int(sum(p.numel() for p in self.module_.parameters())
                              + sum(p.numel() for p in self.head_.parameters()))}

    # ---- checkpoint ---------------------------------------------------------------------
    def _save_state(self, directory: Path) -> dict:
        save_state_dict(directory / "encoder.pt", self.module_)
        save_state_dict(directory / "head.pt", self.head_)
        return {"history": self.history_, "embedding_size": self.head_.in_features}

    def _load_state(self, directory: Path, meta: dict) -> None:
        self.module_ = copy.deepcopy(self._base().module).eval()
        self.module_.load_state_dict(load_state_dict(directory / "encoder.pt"))
        self.head_ = nn.Linear(meta["embedding_size"], len(self.classes_))
        self.head_.load_state_dict(load_state_dict(directory / "head.pt"))
        self.history_ = meta.get("history", [])
