"""Frozen copies of the code paths that produced the committed results (main at 4d01bd7).

The training-speed work (issue 14) must not change a single value; its tests run the current
code and these copies side by side and compare bits. The methods below are the 4d01bd7 bodies
of `TorchClassifier.fit_features`, `_train_loop`, `_epoch_features` (the sequential loop) and
`TwoStageAudioResNet.fit` (stage 1, then each sub-model alone), as functions of `self`.
"""

import copy

import numpy as np
import scipy.fft
import torch
from torch import nn
from tqdm.auto import tqdm

from gunshot_bench import taxonomy
from gunshot_bench.features import FeatureStats, _hann_np, fix_length
from gunshot_bench.models.torch_base import TorchClassifier, autocast_dtype, torch_seed
from gunshot_bench.models.two_stage import MODEL_CATEGORY, ConstantSubModel


def frozen_log_stft(x, dtype=np.float32, batch_size=1, n_fft=1024, hop_length=256):
    """`features.log_stft` as committed at 4d01bd7 (the values of every committed result)."""
    x = fix_length(x)
    single = x.ndim == 1
    x2 = x[None] if single else x
    n, n_samples = x2.shape
    n_bins, n_frames = n_fft // 2, 1 + n_samples // hop_length
    out = np.empty((n, n_bins, n_frames), dtype=dtype)
    chunk = max(1, min(batch_size, n))
    pad = n_fft // 2
    padded = np.zeros((chunk, n_samples + 2 * pad), np.float32)
    frames = np.empty((chunk, n_frames, n_fft), np.float32)
    mag = np.empty((chunk, n_frames, n_fft // 2 + 1), np.float32)
    window = _hann_np(n_fft)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        padded[:m, pad:pad + n_samples] = x2[start:start + m]
        view = np.lib.stride_tricks.sliding_window_view(padded[:m], n_fft, axis=1)[:, ::hop_length]
        np.multiply(view, window, out=frames[:m])
        spec = scipy.fft.rfft(frames[:m], axis=-1, overwrite_x=True, workers=1)
        np.abs(spec, out=mag[:m])
        np.log1p(mag[:m], out=mag[:m])
        out[start:start + m] = mag[:m, :, 1:].transpose(0, 2, 1)
    return out[0] if single else out


def frozen_batch(self, features):
    """`TorchClassifier._batch` as committed at 4d01bd7 (numpy's float16 -> float32 widening)."""
    x = torch.from_numpy(np.asarray(features, dtype=np.float32))
    return ((x - self.stats_.mean) / self.stats_.std).unsqueeze(1)


# ---- 4d01bd7 methods, verbatim but for their names ---------------------------------
def frozen_fit_features(self, F, y, F_val=None, y_val=None, stats: FeatureStats | None = None,
                 augmenter=None):
    """`fit` on precomputed log-STFT features (lets the two-stage model share them)."""
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
        self.history_ = frozen_train_loop(self, F, y_idx, val, augmenter)
    self.net_.eval()
    return self

def frozen_train_loop(self, F, y_idx, val, augmenter=None) -> list[dict]:
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
            xb, yb = self._batch(frozen_epoch_features(self, F, idx, augmenter, epoch)), targets[idx]
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
        if val is not None and since_best >= self.early_stopping_patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return history

def frozen_epoch_features(self, F, idx, augmenter, epoch: int) -> np.ndarray:
    """Features of batch `idx` in `epoch`: clean, or of the clips augmented for this epoch
    (features are per clip, so computing them per batch gives the same values)."""
    if augmenter is None:
        return F[idx]
    waves, changed = augmenter(idx, epoch)
    out = F[idx]
    if changed.any():
        out[changed] = self.features(waves[changed])
    return out



def frozen_two_stage_fit(self, X, y, X_val=None, y_val=None, augmenter=None):
    """Train stage 1 on categories and each sub-model on its category's clips.

    `augmenter` (a `gunshot_bench.augment.Augmenter` over `X`) re-draws every training clip's
    augmentation each epoch, in both stages; a clip gets the same draw in its sub-model as in
    stage 1 for the same epoch (its key and the epoch seed it).
    """
    y = np.asarray(y, dtype=np.int64)
    if y.min() < 0 or y.max() >= len(taxonomy.MODELS):
        raise ValueError(f"two-stage labels must be model ids 0..{len(taxonomy.MODELS) - 1}")
    self._set_classes(y)
    F = TorchClassifier.features(X)
    self.stats_ = (FeatureStats() if self.normalization == "paper"
                   else FeatureStats.from_features(F))
    F_val = None if X_val is None else TorchClassifier.features(X_val)
    y_val = None if y_val is None else np.asarray(y_val, dtype=np.int64)
    cat, cat_val = MODEL_CATEGORY[y], None if y_val is None else MODEL_CATEGORY[y_val]
    self.stage1_ = self._sub("category").fit_features(F, cat, F_val, cat_val, self.stats_,
                                                      augmenter=augmenter)
    self.stage2_, self.history_ = {}, {"category": self.stage1_.history_}
    for c in np.unique(cat):
        mask = cat == c
        ids = np.unique(y[mask])
        if len(ids) == 1:
            self.stage2_[int(c)] = ConstantSubModel(ids[0])
            continue
        vmask = None if y_val is None else cat_val == c
        sub = self._sub("sub", int(c)).fit_features(
            F[mask], y[mask], None if vmask is None else F_val[vmask],
            None if vmask is None else y_val[vmask], self.stats_,
            augmenter=None if augmenter is None else augmenter.subset(np.flatnonzero(mask)))
        self.stage2_[int(c)] = sub
        self.history_[taxonomy.CATEGORIES[c]] = sub.history_
    return self
