"""Shared machinery of the neural models: features once per fit, study A's training loop.

The loop is study A's protocol: cross-entropy on logits, Adam, ReduceLROnPlateau on validation
loss, early stopping when validation accuracy has not improved for `early_stopping_patience`
epochs, best checkpoint (by validation accuracy) restored. The training forward pass runs under
bfloat16 autocast where the CPU computes bfloat16 natively (`precision="auto"`): 1.8-2.1x the
float32 step on AVX512-BF16 (measured, benchmarks/bench_train.py), with float32 weights,
optimiser state, loss and validation; `precision="fp32"` is the plain loop.

Randomness is scoped: weights are initialised and dropout drawn under `torch.random.fork_rng`
seeded from `random_state`, and batches are shuffled by a dedicated `torch.Generator`, so a
seed gives identical weights.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from gunshot_bench.checkpoint import WEIGHTS, load_state_dict, save_state_dict
from gunshot_bench.features import FeatureStats, log_stft, log_stft_shape
from gunshot_bench.models.base import BaseModel
from gunshot_bench.rng import derive_rng

_PREDICT_CHUNK = 128


def as_rows(X) -> np.ndarray:
    """`X` as float32 rows: disk-backed rows (`dataset.read.DiskArray`) stay on disk and are read
    chunk by chunk by the caller; anything else becomes an in-memory array."""
    return X if hasattr(X, "map_rows") else np.asarray(X, dtype=np.float32)


def torch_seed(random_state: int, *keys: object) -> int:
    """A torch seed derived from `random_state` and stable keys (see `gunshot_bench.rng`)."""
    return int(derive_rng(random_state, "torch", *keys).integers(2**62))


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX). Elsewhere oneDNN
    emulates it and bfloat16 autocast is slower than float32, so "auto" stays in float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no reliable flag to read
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of the training forward pass for a `precision` setting, or None."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    if precision == "bf16" or (precision == "auto" and native_bf16()):
        return torch.bfloat16
    return None


def count_params(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def flops_per_clip(net: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Floating-point operations (2 x multiply-accumulates) of one forward pass on one clip.

    Counts convolutions and linear layers, which dominate; measured with forward hooks on a
    zero input of `input_shape` (without the batch axis).
    """
    macs = 0

    def hook(module, inputs, output):
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            per_out = module.in_channels // module.groups * int(np.prod(module.kernel_size))
            macs += output.numel() * per_out
        elif isinstance(module, nn.Linear):
            macs += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros((1, *input_shape)))
    net.train(was_training)
    for h in handles:
        h.remove()
    return 2 * macs


class EpochFeatureMemo:
    """Augmented features of one epoch, computed by one network and taken by another.

    The two-stage model trains stage 1 and the sub-models in lockstep; stage 1 offers the
    features of the augmented clips whose sub-model is still training (`wanted`), the sub-model
    takes them in the same epoch, and the memo is emptied after each epoch. Memory: at most one
    epoch's augmented clips (float16, 353 KB a clip). Why by hand: the value shared is a
    per-epoch intermediate of this loop; no library holds it.
    """

    def __init__(self):
        self.wanted: set[str] = set()
        self._store: dict[tuple[str, int], np.ndarray] = {}

    def offer(self, key: str, epoch: int, features: np.ndarray) -> None:
        if key in self.wanted:
            self._store[(key, epoch)] = features

    def take(self, key: str, epoch: int) -> np.ndarray | None:
        return self._store.pop((key, epoch), None)

    def clear(self) -> None:
        self._store.clear()

    def __len__(self) -> int:
        return len(self._store)


class TorchClassifier(BaseModel):
    """Base of the torch models over standardised log-STFT features `[n, 1, 512, 345]`.

    Subclasses define `__init__` (calling nothing: sklearn style) and `_build_net(n_classes)`.
    Learned attributes: `net_`, `stats_`, `classes_`, `history_` (one dict per epoch).
    """

    def _build_net(self, n_classes: int) -> nn.Module:
        raise NotImplementedError

    # ---- features ---------------------------------------------------------------------
    def _stats_for(self, features: np.ndarray) -> FeatureStats:
        if self.normalization == "paper":
            return FeatureStats()
        if self.normalization != "train":
            raise ValueError(f"normalization must be 'train' or 'paper', got {self.normalization!r}")
        return FeatureStats.from_features(features)

    @staticmethod
    def features(X: np.ndarray) -> np.ndarray:
        """Log-STFT features, float16 (computed once per fit, not per epoch): in memory, or on disk
        beside `X` when `X` is disk-backed rows (`dataset.read.DiskArray`, streaming training).
        Features are per clip, so both hold the same values."""
        if hasattr(X, "map_rows"):
            return X.map_rows(lambda block: log_stft(block, dtype=np.float16), log_stft_shape(), np.float16,
                              _PREDICT_CHUNK)
        return log_stft(X, dtype=np.float16)

    def _batch(self, features: np.ndarray) -> torch.Tensor:
        f = np.asarray(features)
        if f.dtype == np.float16 and f.flags.writeable:
            # torch widens float16 with vector instructions, numpy one value at a time (11 vs
            # 45 ms a batch of 32 clips); the widening is exact, so the values are the same
            x = torch.from_numpy(f).float()
        else:
            x = torch.from_numpy(np.asarray(f, dtype=np.float32))
        return ((x - self.stats_.mean) / self.stats_.std).unsqueeze(1)

    # ---- fit / predict ----------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None, augmenter=None):
        """Train on waveforms `X` with labels `y`; early stopping on (`X_val`, `y_val`).

        `augmenter` (a `gunshot_bench.augment.Augmenter` over `X`) re-draws the augmentation of
        every training clip each epoch; normalisation statistics stay those of the clean clips.
        """
        F = self.features(X)
        F_val = None if X_val is None else self.features(X_val)
        return self.fit_features(F, y, F_val, y_val, augmenter=augmenter)

    def fit_features(self, F, y, F_val=None, y_val=None, stats: FeatureStats | None = None,
                     augmenter=None):
        """`fit` on precomputed log-STFT features (lets the two-stage model share them)."""
        for _ in self.fit_steps(F, y, F_val, y_val, stats, augmenter):
            pass
        return self

    def fit_steps(self, F, y, F_val=None, y_val=None, stats: FeatureStats | None = None,
                  augmenter=None):
        """`fit_features` one epoch at a time: a generator that yields after every epoch whether
        it was the last; exhausting it restores the best weights (as `fit_features` does).

        Networks driven in lockstep (the two-stage model) train exactly as each would alone:
        every epoch runs under this network's own state of torch's global generator (dropout),
        saved between epochs, and the batches are shuffled by its own `torch.Generator`.
        """
        y_idx = self._set_classes(y)
        warm = getattr(self, "_warm_start", None)
        if warm is not None:
            self.stats_ = warm["stats"]
        else:
            self.stats_ = stats if stats is not None else self._stats_for(F)
        val = None
        if F_val is not None and len(F_val):
            lookup = {c: i for i, c in enumerate(self.classes_)}
            keep = np.array([c in lookup for c in np.asarray(y_val)], dtype=bool)
            if keep.any():
                val = (F_val[keep], np.array([lookup[c] for c in np.asarray(y_val)[keep]]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(self.random_state, "init"))
            self.net_ = self._build_net(len(self.classes_))
            if warm is not None:
                self.net_.load_state_dict(warm["state"])
            rng_state = torch.get_rng_state()
        epochs = self._train_epochs(F, y_idx, val, augmenter)
        while True:
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(rng_state)
                try:
                    last = next(epochs)
                except StopIteration as done:
                    self.history_ = done.value
                    break
                rng_state = torch.get_rng_state()
            yield last
        self.net_.eval()

    def _train_epochs(self, F, y_idx, val, augmenter=None):
        """The training loop as a generator: yields after each epoch whether it was the last,
        returns the history (one dict per epoch) after restoring the best weights."""
        net = self.net_
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=self.lr_factor, patience=self.lr_patience)
        loss_fn = nn.CrossEntropyLoss()  # takes logits: the nets output logits, never softmax
        gen = torch.Generator().manual_seed(torch_seed(self.random_state, "shuffle"))
        targets = torch.from_numpy(y_idx.astype(np.int64))
        amp = autocast_dtype(getattr(self, "precision", "fp32"))
        history, best_key, best_state, since_best = [], None, None, 0
        desc = getattr(self, "progress_desc", f"train {self.registered_name}")
        epochs = tqdm(range(self.max_epochs), desc=desc,
                      unit="epoch", disable=not self.progress, leave=False)
        for epoch in epochs:
            net.train()
            order = torch.randperm(len(F), generator=gen).numpy()
            total_loss, correct = 0.0, 0
            for start in range(0, len(order), self.batch_size):
                idx = np.sort(order[start:start + self.batch_size])
                xb, yb = self._batch(self._epoch_features(F, idx, augmenter, epoch)), targets[idx]
                opt.zero_grad(set_to_none=True)
                with torch.autocast("cpu", dtype=amp or torch.bfloat16, enabled=amp is not None):
                    logits = net(xb)
                loss = loss_fn(logits.float(), yb)
                loss.backward()
                opt.step()
                total_loss += loss.item() * len(idx)
                correct += int((logits.argmax(1) == yb).sum())
            row = {"epoch": epoch + 1, "train_loss": total_loss / len(F),
                   "train_accuracy": correct / len(F), "lr": opt.param_groups[0]["lr"]}
            if val is not None:
                row["val_loss"], row["val_accuracy"] = self._evaluate(*val, loss_fn)
                sched.step(row["val_loss"])
                key = (row["val_accuracy"], -row["val_loss"])
                if best_key is None or row["val_accuracy"] > best_key[0]:
                    best_key, best_state, since_best = key, copy.deepcopy(net.state_dict()), 0
                else:
                    since_best += 1
            else:
                sched.step(row["train_loss"])
            history.append(row)
            epochs.set_postfix({k: float(f"{v:.3g}") for k, v in row.items() if k != "epoch"})
            stop = val is not None and since_best >= self.early_stopping_patience
            yield stop or epoch == self.max_epochs - 1
            if stop:
                break
        epochs.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        return history

    def _epoch_features(self, F, idx, augmenter, epoch: int) -> np.ndarray:
        """Features of batch `idx` in `epoch`: clean, or of the clips augmented for this epoch
        (features are per clip, so computing them per batch gives the same values).

        A network given `share_features(memo, role)` takes the augmented features another
        network already computed for the same clip and epoch ("take"), or leaves its own for one
        that will need them ("offer"): the clip's draw depends only on its key and the epoch,
        so they are the features it would compute (`EpochFeatureMemo`).
        """
        if augmenter is None:
            return F[idx]
        memo, role = getattr(self, "_feature_memo", (None, None))
        out = F[idx]
        todo = np.arange(len(idx))
        if role == "take":
            found = [memo.take(augmenter.clip_keys[i], epoch) for i in idx]
            for j, f in enumerate(found):
                if f is not None:
                    out[j] = f
            todo = np.array([j for j, f in enumerate(found) if f is None], dtype=np.int64)
            if not len(todo):
                return out
        waves, changed = augmenter(idx[todo], epoch)
        if changed.any():
            computed = self.features(waves[changed])
            out[todo[changed]] = computed
            if role == "offer":
                for i, f in zip(idx[todo[changed]], computed):
                    memo.offer(augmenter.clip_keys[i], epoch, f)
        return out

    def share_features(self, memo: "EpochFeatureMemo | None", role: str | None = None) -> None:
        """Offer this network's augmented features to `memo`, or take them from it (see
        `_epoch_features`); None stops sharing."""
        if memo is not None and role not in ("offer", "take"):
            raise ValueError(f"role must be 'offer' or 'take', got {role!r}")
        self._feature_memo = (memo, role) if memo is not None else (None, None)

    def _evaluate(self, F, y_idx, loss_fn) -> tuple[float, float]:
        self.net_.eval()
        total, correct = 0.0, 0
        with torch.inference_mode():
            for start in range(0, len(F), 64):
                logits = self.net_(self._batch(F[start:start + 64]))
                yb = torch.from_numpy(y_idx[start:start + 64].astype(np.int64))
                total += float(loss_fn(logits, yb)) * len(yb)
                correct += int((logits.argmax(1) == yb).sum())
        return total / len(F), correct / len(F)

    def inference_net(self) -> nn.Module:
        """The fitted network with batch norm folded into the convolutions (eval mode only).

        Folding removes a pass over every feature map: ~25 % less single-clip latency on CPU;
        outputs match `net_` within float rounding (tested). Built once and cached.
        """
        cached = getattr(self, "_inference_net", None)
        if cached is None or cached[0] is not self.net_:
            self.net_.eval()
            fold = getattr(self.net_, "folded_for_inference", None)
            cached = (self.net_, fold() if fold is not None else self.net_)
            self._inference_net = cached
        return cached[1]

    def use_inference_net(self, net) -> None:
        """Run inference through `net` (a callable `[b, 1, F, T]` tensor -> logits tensor, e.g. an
        onnxruntime session from `gunshot_bench.export`) instead of the folded torch network."""
        self._inference_net = (self.net_, net)

    def predict_proba_features(self, F: np.ndarray) -> np.ndarray:
        """Softmax probabilities `[n, n_classes]` from precomputed log-STFT features."""
        net = self.inference_net()
        out = []
        with torch.inference_mode():
            for start in range(0, len(F), 64):
                out.append(torch.softmax(net(self._batch(F[start:start + 64])), 1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax probabilities `[n, n_classes]` (columns follow `classes_`)."""
        X = as_rows(X)
        parts = [self.predict_proba_features(log_stft(X[s:s + _PREDICT_CHUNK]))
                 for s in range(0, len(X), _PREDICT_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)), np.float32)

    # ---- fine-tuning, complexity, checkpoint --------------------------------------------
    def warm_start_from(self, other: "TorchClassifier") -> None:
        """Start the next `fit` from `other`'s weights and normalisation (study B's fine-tuning)."""
        if type(other) is not type(self):
            raise ValueError(f"cannot fine-tune a {self.registered_name} model from a "
                             f"{other.registered_name} checkpoint")
        self._warm_start = {"state": copy.deepcopy(other.net_.state_dict()), "stats": other.stats_}

    def complexity(self) -> dict:
        """Trainable parameters and FLOPs per 2 s clip of the fitted network."""
        from gunshot_bench.features import log_stft_shape

        return {"params": count_params(self.net_),
                "flops_per_clip": flops_per_clip(self.net_, (1, *log_stft_shape()))}

    def _save_state(self, directory: Path) -> dict:
        save_state_dict(directory / WEIGHTS, self.net_)
        return {"stats": {"mean": self.stats_.mean, "std": self.stats_.std},
                "history": self.history_}

    def _load_state(self, directory: Path, meta: dict) -> None:
        self.stats_ = FeatureStats(**meta["stats"])
        self.history_ = meta.get("history", [])
        self.net_ = self._build_net(len(self.classes_))
        self.net_.load_state_dict(load_state_dict(directory / WEIGHTS))
        self.net_.eval()
