"""Study A's two-stage model: a category AudioResNet, then one AudioResNet per category.

Stage 1 predicts one of the 5 categories; stage 2 holds one sub-model per category, trained
only on that category's clips (3/13/8/4/4 models). A clip is ROUTED to the sub-model of its
PREDICTED category, so a stage-1 mistake can never be repaired by stage 2 and end-to-end
accuracy never exceeds stage-1 accuracy. A category with one model in training gets a
constant sub-model. Labels are model ids (indices into `taxonomy.MODELS`).

`predict_proba` is the full hierarchical distribution p(category) * p(model | category) over
every sub-model, and `predict` is its argmax: the reported label is the most probable one and
its probability is the product of the stage probabilities (`ranked_labels` lists the
alternatives in descending probability). `route` keeps study A's routed decision (the argmax
model of the argmax category's sub-model); where stage 1 is unsure the two can differ, and the
routed one can then be less probable than an alternative (docs/models.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gunshot_bench import taxonomy
from gunshot_bench.features import FeatureStats, log_stft
from gunshot_bench.models.audioresnet import DEFAULT_NET, AudioResNetClassifier
from gunshot_bench.models.base import BaseModel
from gunshot_bench.models.registry import register
from gunshot_bench.models.torch_base import EpochFeatureMemo, TorchClassifier, as_rows
from gunshot_bench.rng import derive_rng
from gunshot_bench.train_config import TRAIN_DEFAULTS as _D  # study A's protocol, defined once

#: Category id (index into CATEGORIES) of each model id (index into MODELS).
MODEL_CATEGORY = np.array([taxonomy.category_index(taxonomy.category_of(m))
                           for m in taxonomy.MODELS], dtype=np.int64)
_CHUNK = 128


def label_text(model_id: int) -> str:
    """"Category - Model" display text of a model id, e.g. "Pistol - Glock 17"."""
    name = taxonomy.MODELS[int(model_id)]
    return taxonomy.display_name(taxonomy.category_of(name), name)


class ConstantSubModel:
    """The sub-model of a category with a single model in training: always that model."""

    def __init__(self, model_id: int):
        self.classes_ = np.array([int(model_id)], dtype=np.int64)
        self.history_: list = []

    def predict_proba_features(self, F: np.ndarray) -> np.ndarray:
        return np.ones((len(F), 1), dtype=np.float32)


@register("audioresnet_two_stage")
class TwoStageAudioResNet(BaseModel):
    """Category AudioResNet + one AudioResNet per category; hyperparameters as the flat model.

    Learned attributes: `stage1_` (category model), `stage2_` ({category id: sub-model}),
    `classes_` (model ids seen in training), `stats_`, `history_` ({stage name: epochs}).
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

    def _sub(self, *keys) -> AudioResNetClassifier:
        params = self.get_params(deep=False)
        params["random_state"] = int(derive_rng(self.random_state, "two_stage", *keys).integers(2**31))
        sub = AudioResNetClassifier(**params)
        stage = "category" if keys == ("category",) else taxonomy.CATEGORIES[keys[-1]]
        sub.progress_desc = f"two-stage: {stage}"
        return sub

    def fit(self, X, y, X_val=None, y_val=None, augmenter=None):
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
        stage1 = self._sub("category")
        runs = [(stage1, stage1.fit_steps(F, cat, F_val, cat_val, self.stats_, augmenter=augmenter))]
        self.stage2_, clip_keys = {}, [set()]  # the clip keys each network trains on
        for c in np.unique(cat):
            mask = cat == c
            ids = np.unique(y[mask])
            if len(ids) == 1:
                self.stage2_[int(c)] = ConstantSubModel(ids[0])
                continue
            vmask = None if y_val is None else cat_val == c
            sub = self._sub("sub", int(c))
            sub_aug = None if augmenter is None else augmenter.subset(np.flatnonzero(mask))
            runs.append((sub, sub.fit_steps(F[mask], y[mask], None if vmask is None else F_val[vmask],
                                            None if vmask is None else y_val[vmask], self.stats_,
                                            augmenter=sub_aug)))
            self.stage2_[int(c)] = sub
            clip_keys.append(set() if sub_aug is None else set(sub_aug.clip_keys))
        self._train_lockstep(runs, clip_keys, share=augmenter is not None)
        self.stage1_ = stage1
        self.history_ = {"category": stage1.history_}
        for c, sub in self.stage2_.items():
            if not isinstance(sub, ConstantSubModel):
                self.history_[taxonomy.CATEGORIES[c]] = sub.history_
        return self

    @staticmethod
    def _train_lockstep(runs, clip_keys: list[set], share: bool) -> None:
        """Run every network's epochs in turn (stage 1 first), epoch by epoch, until all stop.

        Why: a clip gets the same augmentation in stage 1 and in its sub-model for the same
        epoch, so computing it once halves the augmentation and feature work of the epochs the
        two share; trained sequentially, the sub-models would need every epoch of stage 1 kept
        (tens of GB on `paper`). Each network trains exactly as alone (`fit_steps`; tested).
        """
        memo = EpochFeatureMemo() if share else None
        for i, (net, _) in enumerate(runs):
            net.share_features(memo, "offer" if i == 0 else "take")
        active = list(range(len(runs)))
        while active:
            if memo is not None:  # stage 1 keeps the features of clips whose sub-model trains on
                memo.wanted = set().union(set(), *(clip_keys[i] for i in active if i > 0))
            for i in list(active):
                if next(runs[i][1]):
                    for _ in runs[i][1]:  # that was its last epoch: finish (restore the best weights)
                        pass
                    active.remove(i)
            if memo is not None:
                memo.clear()
        for net, _ in runs:
            net.share_features(None)

    # ---- inference ----------------------------------------------------------------------
    def _chunks(self, X):
        X = as_rows(X)
        for s in range(0, len(X), _CHUNK):
            yield log_stft(X[s:s + _CHUNK])

    def predict_category_proba(self, X) -> np.ndarray:
        """Stage-1 probabilities `[n, len(category_classes_)]`."""
        return np.concatenate([self.stage1_.predict_proba_features(F) for F in self._chunks(X)])

    def predict_category(self, X) -> np.ndarray:
        """Predicted category ids (indices into `taxonomy.CATEGORIES`)."""
        return self.stage1_.classes_[self.predict_category_proba(X).argmax(1)]

    def route(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Routed inference: (category, p(category), model id, p(model | category)) per clip."""
        outs = [self._route_features(F) for F in self._chunks(X)]
        if not outs:
            return (np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64),
                    np.zeros(0, np.float32))
        return tuple(np.concatenate(parts) for parts in zip(*outs))

    def _route_features(self, F):
        p_cat = self.stage1_.predict_proba_features(F)
        cat = self.stage1_.classes_[p_cat.argmax(1)]
        model = np.zeros(len(F), np.int64)
        p_model = np.zeros(len(F), np.float32)
        for c in np.unique(cat):
            idx = np.flatnonzero(cat == c)
            sub = self.stage2_[int(c)]
            proba = sub.predict_proba_features(F[idx])
            model[idx] = sub.classes_[proba.argmax(1)]
            p_model[idx] = proba.max(1)
        return cat, p_cat.max(1), model, p_model

    def predict(self, X) -> np.ndarray:
        """Model ids: the most probable model of p(category) * p(model | category) per clip."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(1)] if len(proba) else np.zeros(0, np.int64)

    def ranked_labels(self, X, top_k: int = 3) -> list[list[tuple[int, float]]]:
        """Per clip: the `top_k` (model id, p(category) * p(model | category)) in descending
        probability; the first is `predict`'s label."""
        proba = self.predict_proba(X)
        out = []
        for p in proba:
            order = np.argsort(-p, kind="stable")[:top_k]  # stable: ties keep the class order
            out.append([(int(self.classes_[j]), float(p[j])) for j in order])
        return out

    def predict_proba(self, X) -> np.ndarray:
        """p(category) * p(model | category) over `classes_` (every sub-model evaluated)."""
        col = {m: i for i, m in enumerate(self.classes_)}
        parts = []
        for F in self._chunks(X):
            p_cat = self.stage1_.predict_proba_features(F)
            out = np.zeros((len(F), len(self.classes_)), np.float32)
            for j, c in enumerate(self.stage1_.classes_):
                sub = self.stage2_[int(c)]
                cols = [col[m] for m in sub.classes_]
                out[:, cols] = p_cat[:, j:j + 1] * sub.predict_proba_features(F)
            parts.append(out)
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)), np.float32)

    def describe(self, X, top_k: int = 3) -> list[list[tuple[str, float]]]:
        """Per clip: the `top_k` "Category - Model" labels with p(category) * p(model | category),
        in descending probability (the first is the reported label)."""
        return [[(label_text(m), p) for m, p in rows] for rows in self.ranked_labels(X, top_k)]

    def complexity(self) -> dict:
        """Parameters of all networks; FLOPs of one routed clip (stage 1 + one sub-model)."""
        subs = [s.complexity() for s in self.stage2_.values() if isinstance(s, TorchClassifier)]
        first = self.stage1_.complexity()
        return {"params": first["params"] + sum(s["params"] for s in subs),
                "flops_per_clip": first["flops_per_clip"]
                + max((s["flops_per_clip"] for s in subs), default=0)}

    # ---- checkpoint ---------------------------------------------------------------------
    def _save_state(self, directory: Path) -> dict:
        return {"stats": {"mean": self.stats_.mean, "std": self.stats_.std},
                "constant": save_stages(self.stage1_, self.stage2_, directory), "history": self.history_}

    def _load_state(self, directory: Path, meta: dict) -> None:
        self.stats_ = FeatureStats(**meta["stats"])
        self.history_ = meta.get("history", {})
        self.stage1_, self.stage2_ = load_stages(AudioResNetClassifier, directory, meta["constant"])


def save_stages(stage1, stage2: dict, directory: Path) -> dict:
    """Save a two-stage model's category model and sub-models (one folder each, by category
    name); returns {category name: model id} of the constant sub-models, which need no folder."""
    stage1.save(directory / "category")
    constant = {}
    for c, sub in stage2.items():
        if isinstance(sub, ConstantSubModel):
            constant[taxonomy.CATEGORIES[c]] = int(sub.classes_[0])
        else:
            sub.save(directory / taxonomy.CATEGORIES[c])
    return constant


def load_stages(stage_cls, directory: Path, constant: dict) -> tuple:
    """(category model, {category id: sub-model}) saved by `save_stages`, loaded with `stage_cls`."""
    stage1 = stage_cls.load(directory / "category")
    stage2 = {}
    for c in stage1.classes_:
        name = taxonomy.CATEGORIES[int(c)]
        stage2[int(c)] = ConstantSubModel(constant[name]) if name in constant else stage_cls.load(directory / name)
    return stage1, stage2
