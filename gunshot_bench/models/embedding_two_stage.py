"""Study A's two-stage protocol over embedding models: a probe (or fine-tuned encoder) per stage.

Stage 1 is a category model, stage 2 one model per category trained on that category's clips;
a clip is routed to the sub-model of its predicted category, exactly as `two_stage` does for
AudioResNet (a category with one model in training gets a constant sub-model). `predict_proba`
is p(category) * p(model | category) over every sub-model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gunshot_bench import taxonomy
from gunshot_bench.models.embedding import EmbeddingProbe
from gunshot_bench.models.embedding_finetune import EmbeddingFinetune
from gunshot_bench.models.registry import register
from gunshot_bench.models.two_stage import MODEL_CATEGORY, ConstantSubModel, load_stages, save_stages
from gunshot_bench.rng import derive_rng


class _TwoStage:
    """Mixed in before a single-stage embedding model class, whose parameters it shares."""

    single_stage: type

    def _stage(self, *keys):
        params = self.get_params(deep=False)
        params["random_state"] = int(derive_rng(self.random_state, "two_stage", *keys).integers(2**31))
        return self.single_stage(**params)

    def fit(self, X, y, X_val=None, y_val=None):
        y = np.asarray(y, dtype=np.int64)
        if y.min() < 0 or y.max() >= len(taxonomy.MODELS):
            raise ValueError(f"two-stage labels must be model ids 0..{len(taxonomy.MODELS) - 1}")
        self._set_classes(y)
        X = np.asarray(X, dtype=np.float32)
        has_val = X_val is not None and y_val is not None and len(y_val) > 0
        y_val = np.asarray(y_val, dtype=np.int64) if has_val else None
        cat = MODEL_CATEGORY[y]
        cat_val = MODEL_CATEGORY[y_val] if has_val else None
        self.stage1_ = self._stage("category").fit(X, cat, X_val, cat_val)
        self.stage2_ = {}
        for c in np.unique(cat):
            mask = cat == c
            ids = np.unique(y[mask])
            if len(ids) == 1:
                self.stage2_[int(c)] = ConstantSubModel(ids[0])
                continue
            vmask = cat_val == c if has_val else None
            sub_val = (np.asarray(X_val)[vmask], y_val[vmask]) if has_val and vmask.any() else (None, None)
            self.stage2_[int(c)] = self._stage("sub", int(c)).fit(X[mask], y[mask], *sub_val)
        return self

    @staticmethod
    def _sub_proba(sub, X) -> np.ndarray:
        if isinstance(sub, ConstantSubModel):
            return np.ones((len(X), 1), np.float32)
        return sub.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Model ids: each clip classified by the sub-model of its predicted category."""
        X = np.asarray(X, dtype=np.float32)
        cat = self.stage1_.classes_[self.stage1_.predict_proba(X).argmax(1)]
        out = np.zeros(len(X), np.int64)
        for c in np.unique(cat):
            idx = np.flatnonzero(cat == c)
            sub = self.stage2_[int(c)]
            out[idx] = sub.classes_[self._sub_proba(sub, X[idx]).argmax(1)]
        return out

    def predict_proba(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        col = {int(m): i for i, m in enumerate(self.classes_)}
        p_cat = self.stage1_.predict_proba(X)
        out = np.zeros((len(X), len(self.classes_)), np.float32)
        for j, c in enumerate(self.stage1_.classes_):
            sub = self.stage2_[int(c)]
            out[:, [col[int(m)] for m in sub.classes_]] = p_cat[:, j:j + 1] * self._sub_proba(sub, X)
        return out

    def complexity(self) -> dict:
        parts = [self.stage1_] + [s for s in self.stage2_.values() if not isinstance(s, ConstantSubModel)]
        return {"params": int(sum(p.complexity()["params"] for p in parts))}

    def _save_state(self, directory: Path) -> dict:
        return {"constant": save_stages(self.stage1_, self.stage2_, directory)}

    def _load_state(self, directory: Path, meta: dict) -> None:
        self.stage1_, self.stage2_ = load_stages(self.single_stage, directory, meta["constant"])

@register("embedding_two_stage")
class EmbeddingTwoStage(_TwoStage, EmbeddingProbe):
    """Two-stage probe: a category probe, then a model probe per category, on one embedding."""

    single_stage = EmbeddingProbe


@register("embedding_finetune_two_stage")
class EmbeddingFinetuneTwoStage(_TwoStage, EmbeddingFinetune):
    """Two-stage fine-tuning: a fine-tuned encoder per stage."""

    single_stage = EmbeddingFinetune
