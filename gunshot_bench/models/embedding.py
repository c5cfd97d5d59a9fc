"""Pretrained embeddings with a probe on top (HEAR's protocol): the `embedding_probe` model.

A frozen encoder from `gunshot_bench.encoders` turns each clip into one vector (cached on disk
per encoder and clip content, so a probe trains in seconds and the leaderboard embeds each clip
once). On top, HEAR's probe: the embeddings are standardised with the training split's mean and
std, and a few probes are trained on the training split: logistic regression at two
regularisation strengths and a one-hidden-layer MLP at two. The one with the best macro-F1 on
the validation split is kept (without a validation split: logistic regression, C = 1).

The probe's fitted state is stored as arrays (no pickle), like the other classical models.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from gunshot_bench.checkpoint import estimator_state, load_arrays, restore_estimator, save_arrays
from gunshot_bench.encoders import encoder_unavailable_reason, get_encoder
from gunshot_bench.encoders.cache import EmbeddingCache, default_root
from gunshot_bench.models.base import BaseModel
from gunshot_bench.models.registry import register
from gunshot_bench.rng import derive_rng

#: The probes tried on the validation split, simplest first (ties keep the simpler one).
PROBES = {
    "logreg": [{"C": 0.1}, {"C": 1.0}],
    "mlp": [{"alpha": 1e-3}, {"alpha": 1e-1}],
}
_CACHES: dict[tuple, EmbeddingCache] = {}


def embedding_cache(encoder: str, encoder_params: dict | None, cache_dir) -> EmbeddingCache:
    """The process's cache object of one encoder (keeps the embeddings read so far in memory)."""
    enc = get_encoder(encoder, **(encoder_params or {}))
    root = Path(cache_dir) if cache_dir is not None else default_root()
    key = (enc.cache_key, str(root))
    if key not in _CACHES or _CACHES[key].encoder is not enc:
        _CACHES[key] = EmbeddingCache(enc, root)
    return _CACHES[key]


def _seed(random_state: int, *keys) -> int:
    return int(derive_rng(random_state, *keys).integers(2**31))


def _make_probe(kind: str, settings: dict, hidden_units: int, random_state: int):
    if kind == "logreg":
        return LogisticRegression(C=settings["C"], max_iter=2000)
    return MLPClassifier(hidden_layer_sizes=(hidden_units,), alpha=settings["alpha"], max_iter=300,
                         random_state=_seed(random_state, "mlp", settings["alpha"]))


@register("embedding_probe")
class EmbeddingProbe(BaseModel):
    """A probe on frozen pretrained embeddings, chosen on the validation split.

    Args:
        encoder: registered encoder name (`gunshot_bench.encoders.available_encoders()`).
        encoder_params: keyword parameters of the encoder's factory (e.g. an ONNX file's path).
        probe: "auto" (choose on validation), "logreg" or "mlp" (choose within that kind).
        hidden_units: width of the MLP's hidden layer.
        cache_dir: root of the embedding cache (default `$GUNSHOT_BENCH_CACHE/embeddings`
            or `~/.cache/gunshot-bench/embeddings`).

    Learned attributes: `scaler_`, `probe_`, `probe_kind_`, `selection_` (validation macro-F1
    of every candidate), `classes_`.
    """

    def __init__(self, encoder="aisfx", encoder_params=None, probe="auto", hidden_units=256, cache_dir=None,
                 random_state=0):
        self.encoder = encoder
        self.encoder_params = encoder_params
        self.probe = probe
        self.hidden_units = hidden_units
        self.cache_dir = cache_dir
        self.random_state = random_state

    @classmethod
    def unavailable_reason(cls, params: dict) -> str | None:
        """None when the entry's encoder can run here, else what to install (no weights loaded)."""
        return encoder_unavailable_reason(params.get("encoder", "aisfx"))

    def embed(self, X) -> np.ndarray:
        """Embeddings of raw 44.1 kHz clips (from the cache where already computed)."""
        return embedding_cache(self.encoder, self.encoder_params, self.cache_dir).embed(X)

    def fit(self, X, y, X_val=None, y_val=None):
        if self.probe not in ("auto", *PROBES):
            raise ValueError(f"probe must be 'auto', 'logreg' or 'mlp', got {self.probe!r}")
        index = self._set_classes(y)
        E = self.embed(X)
        self.scaler_ = StandardScaler().fit(E)
        Z = self.scaler_.transform(E)
        if len(self.classes_) == 1:
            raise ValueError("a probe needs at least two classes in training")
        kinds = list(PROBES) if self.probe == "auto" else [self.probe]
        candidates = [(k, s) for k in kinds for s in PROBES[k]]
        if X_val is None or y_val is None or len(y_val) == 0:
            candidates = [("logreg", {"C": 1.0})] if self.probe != "mlp" else candidates[:1]
        Z_val = None if len(candidates) == 1 else self.scaler_.transform(self.embed(X_val))
        best, self.selection_ = None, []
        for kind, settings in candidates:
            est = _make_probe(kind, settings, self.hidden_units, self.random_state)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(Z, index)
            score = None
            if Z_val is not None:
                y_pred = self.classes_[est.predict(Z_val)]
                score = float(f1_score(np.asarray(y_val), y_pred, average="macro", zero_division=0))
            self.selection_.append({"probe": kind, **settings, "val_macro_f1": score})
            if best is None or (score is not None and score > best[0]):
                best = (score, kind, est)
        _, self.probe_kind_, self.probe_ = best
        return self

    def predict_proba_embeddings(self, E: np.ndarray) -> np.ndarray:
        return self.probe_.predict_proba(self.scaler_.transform(E)).astype(np.float32)

    def predict_proba(self, X) -> np.ndarray:
        return self.predict_proba_embeddings(self.embed(X))

    def complexity(self) -> dict:
        """Trainable parameters of the probe (the frozen encoder is not counted)."""
        if self.probe_kind_ == "logreg":
            return {"params": int(self.probe_.coef_.size + self.probe_.intercept_.size)}
        return {"params": int(sum(w.size for w in self.probe_.coefs_) + sum(b.size for b in self.probe_.intercepts_))}

    # ---- checkpoint ---------------------------------------------------------------------
    def _save_state(self, directory: Path) -> dict:
        scalars, arrays = estimator_state(self.scaler_)
        save_arrays(directory / "scaler.npz", arrays)
        if self.probe_kind_ == "logreg":
            p_scalars, p_arrays = estimator_state(self.probe_)
        else:  # MLPClassifier keeps lists of arrays, which estimator_state refuses
            p_scalars = {"n_layers_": self.probe_.n_layers_, "n_outputs_": self.probe_.n_outputs_,
                         "out_activation_": self.probe_.out_activation_, "n_features_in_": self.probe_.n_features_in_}
            p_arrays = {"classes_": self.probe_.classes_}
            p_arrays.update({f"coef{i}": w for i, w in enumerate(self.probe_.coefs_)})
            p_arrays.update({f"intercept{i}": b for i, b in enumerate(self.probe_.intercepts_)})
        save_arrays(directory / "probe.npz", p_arrays)
        return {"scaler": scalars, "probe_kind": self.probe_kind_, "probe_params": self.probe_.get_params(),
                "probe_scalars": p_scalars, "selection": self.selection_}

    def _load_state(self, directory: Path, meta: dict) -> None:
        self.scaler_ = restore_estimator(StandardScaler, {}, meta["scaler"], load_arrays(directory / "scaler.npz"))
        self.probe_kind_, self.selection_ = meta["probe_kind"], meta.get("selection", [])
        arrays = load_arrays(directory / "probe.npz")
        if self.probe_kind_ == "logreg":
            self.probe_ = restore_estimator(LogisticRegression, meta["probe_params"], meta["probe_scalars"], arrays)
            return
        mlp = MLPClassifier(**meta["probe_params"])
        for key, value in meta["probe_scalars"].items():
            setattr(mlp, key, value)
        n = mlp.n_layers_ - 1
        mlp.coefs_ = [arrays[f"coef{i}"] for i in range(n)]
        mlp.intercepts_ = [arrays[f"intercept{i}"] for i in range(n)]
        mlp.classes_ = arrays["classes_"]
        self.probe_ = mlp
