"""Classical baselines on MFCCs, each a few lines around scikit-learn or hmmlearn.

- `svm`: `SVC(probability=True)` on standardised MFCC statistics (mean/std of MFCCs and deltas).
- `lda`: `LinearDiscriminantAnalysis` on the same statistics.
- `gmm`: one `GaussianMixture` per class on MFCC frames; a clip goes to the class whose
  mixture gives its frames the highest summed log-likelihood.
- `hmm`: one hmmlearn `GaussianHMM` per class on MFCC frame sequences; decided by the
  sequence log-likelihood.

For GMM and HMM, `predict_proba` is the softmax of the per-frame mean log-likelihood (the
same ranking as the summed one, with a temperature that keeps the probabilities usable).
Checkpoints store hyperparameters and fitted arrays (`checkpoint.estimator_state`), no pickle.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from hmmlearn.hmm import GaussianHMM
from scipy.special import softmax
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from gunshot_bench.checkpoint import (estimator_state, load_arrays, read_json, restore_estimator,
                                      save_arrays, write_json)
from gunshot_bench.features import mfcc_frames, mfcc_stats

# hmmlearn logs a warning at every EM step whose log-likelihood falls by float rounding
# (deltas of ~1e-8), hundreds of lines per leaderboard run; real failures still raise.
logging.getLogger("hmmlearn.base").setLevel(logging.ERROR)
from gunshot_bench.models.base import BaseModel
from gunshot_bench.models.registry import register
from gunshot_bench.rng import derive_rng


def _seed(random_state: int, *keys) -> int:
    return int(derive_rng(random_state, *keys).integers(2**31))


class _EstimatorsModel(BaseModel):
    """A model made of named fitted estimators in `self._estimators()` (saved as arrays)."""

    @staticmethod
    def _with_copies(featurize, X, y, augmenter=None) -> tuple[np.ndarray, np.ndarray]:
        """(features, labels) of the training clips `X`, followed by those of the augmented
        copies of `augmenter` (`gunshot_bench.augment.Augmenter`; none: `X` only).

        The same rows in the same order as `featurize` of the clips and the copies
        concatenated (features are per clip), but the copies' waveforms are featurised a chunk
        at a time and dropped: a fit holds its training split, one chunk of augmented clips
        and the features, instead of a second and third copy of the split (docs/scaling.md).
        """
        y = np.asarray(y)
        feats, labels = [featurize(X)], [y]
        for waves, source in (augmenter.copy_chunks() if augmenter is not None else ()):
            feats.append(featurize(waves))
            labels.append(y[source])
        return np.concatenate(feats), np.concatenate(labels)

    def _estimators(self) -> dict:
        raise NotImplementedError

    def _set_estimators(self, estimators: dict) -> None:
        raise NotImplementedError

    def _save_state(self, directory: Path) -> dict:
        index = {}
        for i, (name, est) in enumerate(self._estimators().items()):
            scalars, arrays = estimator_state(est)
            save_arrays(directory / f"est{i}.npz", arrays)
            write_json(directory / f"est{i}.json", {"class": type(est).__name__,
                                                     "params": est.get_params(),
                                                     "scalars": scalars})
            index[name] = i
        return {"estimators": index}

    def _load_state(self, directory: Path, meta: dict) -> None:
        classes = {c.__name__: c for c in (SVC, StandardScaler, LinearDiscriminantAnalysis,
                                           GaussianMixture, GaussianHMM)}
        ests = {}
        for name, i in meta["estimators"].items():
            head = read_json(directory / f"est{i}.json")
            ests[name] = restore_estimator(classes[head["class"]], head["params"],
                                           head["scalars"], load_arrays(directory / f"est{i}.npz"))
        self._set_estimators(ests)


@register("svm")
class SVMClassifier(_EstimatorsModel):
    """RBF SVM with Platt-scaled probabilities on standardised MFCC statistics."""

    def __init__(self, C=10.0, gamma="scale", n_mfcc=20, random_state=0):
        self.C = C
        self.gamma = gamma
        self.n_mfcc = n_mfcc
        self.random_state = random_state

    def fit(self, X, y, X_val=None, y_val=None, augmenter=None):
        Z, y = self._with_copies(self._stats, X, y, augmenter)
        self._set_classes(y)
        self.scaler_ = StandardScaler().fit(Z)
        with warnings.catch_warnings():
            # scikit-learn 1.9 deprecates probability=True (removal in 1.11) in favour of
            # CalibratedClassifierCV, whose fitted state is nested private objects that cannot
            # be stored as plain arrays; with the pinned 1.9.1 Platt scaling inside SVC is kept.
            warnings.simplefilter("ignore", FutureWarning)
            self.svc_ = SVC(C=self.C, gamma=self.gamma, probability=True,
                            random_state=_seed(self.random_state, "svm"))
            self.svc_.fit(self.scaler_.transform(Z), np.asarray(y, dtype=np.int64))
        return self

    def _stats(self, X):
        return mfcc_stats(X, n_mfcc=self.n_mfcc)

    def predict_proba(self, X):
        return self.svc_.predict_proba(self.scaler_.transform(self._stats(X)))

    def _estimators(self):
        return {"scaler": self.scaler_, "svc": self.svc_}

    def _set_estimators(self, e):
        self.scaler_, self.svc_ = e["scaler"], e["svc"]


@register("lda")
class LDAClassifier(_EstimatorsModel):
    """Linear discriminant analysis on MFCC statistics (shrinkage keeps it stable on few clips)."""

    def __init__(self, shrinkage="auto", n_mfcc=20, random_state=0):
        self.shrinkage = shrinkage
        self.n_mfcc = n_mfcc
        self.random_state = random_state  # unused: LDA is deterministic; kept for the interface

    def fit(self, X, y, X_val=None, y_val=None, augmenter=None):
        Z, y = self._with_copies(lambda x: mfcc_stats(x, n_mfcc=self.n_mfcc), X, y, augmenter)
        self._set_classes(y)
        self.lda_ = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=self.shrinkage)
        self.lda_.fit(Z, np.asarray(y, dtype=np.int64))
        return self

    def predict_proba(self, X):
        return self.lda_.predict_proba(mfcc_stats(X, n_mfcc=self.n_mfcc))

    def _estimators(self):
        return {"lda": self.lda_}

    def _set_estimators(self, e):
        self.lda_ = e["lda"]


class _PerClassLikelihood(_EstimatorsModel):
    """One generative model per class over MFCC frames; decided by log-likelihood."""

    def _make(self, key: int):
        raise NotImplementedError

    def _fit_one(self, est, frames: np.ndarray):
        raise NotImplementedError

    def _loglik(self, est, frames: np.ndarray) -> np.ndarray:
        """Per-clip mean log-likelihood per frame of `frames` [n, t, d]."""
        raise NotImplementedError

    def _frames(self, X, fit_scaler: bool = False) -> np.ndarray:
        return self._standardise(mfcc_frames(X, n_mfcc=self.n_mfcc), fit_scaler)

    def _standardise(self, frames: np.ndarray, fit_scaler: bool = False) -> np.ndarray:
        # Standardised float64 frames: raw MFCCs span very different scales (c0 ~ -500) and
        # silent stretches repeat one frame, which makes float32 covariances singular.
        frames = frames.astype(np.float64)
        n, t, d = frames.shape
        if fit_scaler:
            self.scaler_ = StandardScaler().fit(frames.reshape(-1, d))
        return self.scaler_.transform(frames.reshape(-1, d)).reshape(n, t, d)

    def fit(self, X, y, X_val=None, y_val=None, augmenter=None):
        frames, y = self._with_copies(lambda x: mfcc_frames(x, n_mfcc=self.n_mfcc), X, y, augmenter)
        y_idx = self._set_classes(y)
        frames = self._standardise(frames, fit_scaler=True)
        self.per_class_ = [self._fit_one(self._make(int(c)), frames[y_idx == i])
                           for i, c in enumerate(self.classes_)]
        return self

    def predict_proba(self, X):
        frames = self._frames(X)
        scores = np.stack([self._loglik(est, frames) for est in self.per_class_], axis=1)
        return softmax(scores, axis=1)

    def _estimators(self):
        return {"scaler": self.scaler_, **{str(c): est for c, est in zip(self.classes_, self.per_class_)}}

    def _set_estimators(self, e):
        self.scaler_ = e["scaler"]
        self.per_class_ = [e[str(c)] for c in self.classes_]


@register("gmm")
class GMMClassifier(_PerClassLikelihood):
    """One diagonal-covariance Gaussian mixture per class on MFCC frames."""

    def __init__(self, n_components=4, covariance_type="diag", n_mfcc=20, random_state=0):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.n_mfcc = n_mfcc
        self.random_state = random_state

    def _make(self, key):
        return GaussianMixture(self.n_components, covariance_type=self.covariance_type,
                               reg_covar=1e-2, random_state=_seed(self.random_state, "gmm", key))

    def _fit_one(self, est, frames):
        flat = frames.reshape(-1, frames.shape[-1])
        est.n_components = min(self.n_components, len(flat))
        return est.fit(flat)

    def _loglik(self, est, frames):
        n, t, d = frames.shape
        return est.score_samples(frames.reshape(-1, d)).reshape(n, t).mean(1)


@register("hmm")
class HMMClassifier(_PerClassLikelihood):
    """One left-to-right-free (ergodic) diagonal Gaussian HMM per class on MFCC sequences."""

    def __init__(self, n_states=3, n_iter=10, n_mfcc=20, random_state=0):
        self.n_states = n_states
        self.n_iter = n_iter
        self.n_mfcc = n_mfcc
        self.random_state = random_state

    def _make(self, key):
        return GaussianHMM(self.n_states, covariance_type="diag", n_iter=self.n_iter,
                           min_covar=1e-2, random_state=_seed(self.random_state, "hmm", key))

    def _fit_one(self, est, frames):
        return est.fit(frames.reshape(-1, frames.shape[-1]), lengths=[frames.shape[1]] * len(frames))

    def _loglik(self, est, frames):
        return np.array([est.score(f) for f in frames]) / frames.shape[1]
