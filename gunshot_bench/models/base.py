"""What every registered model shares: hyperparameters, `classes_`, and the checkpoint header.

A model directory holds `model.json` (registered name, hyperparameters, package version and
the model's own metadata) plus whatever weight files the model writes. `load_model(dir)`
reads the header and hands the directory to the registered class's `load`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from gunshot_bench import __version__
from gunshot_bench.checkpoint import FORMAT_VERSION, HEADER, malformed, read_header, read_json, write_json


class BaseModel(ClassifierMixin, BaseEstimator):
    """Base of all models: scikit-learn conventions plus checkpoint helpers.

    Subclasses implement `fit`, `predict_proba`, `_save_state(dir) -> dict` and
    `_load_state(dir, meta)`. `predict` maps the most probable column to `classes_`.
    """

    registered_name = "?"

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (values of `classes_`) of the clips in `X`."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _set_classes(self, y: np.ndarray) -> np.ndarray:
        """Store `classes_` (sorted unique labels) and return y as column indices."""
        y = np.asarray(y)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError(f"y must be a non-empty 1-D label array, got shape {y.shape}")
        self.classes_, index = np.unique(y.astype(np.int64), return_inverse=True)
        return index

    def save(self, directory: str | Path) -> Path:
        """Write the fitted model to `directory` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = self._save_state(directory) or {}
        write_json(directory / HEADER, {
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "model": self.registered_name,
            "params": _jsonable_params(self.get_params(deep=False)),
            "classes": self.classes_.tolist(),
            "meta": meta,
        })
        return directory

    @classmethod
    def load(cls, directory: str | Path):
        """Read a model written by `save`; refuses another package version or model class."""
        directory = Path(directory)
        header = read_header(directory, cls.registered_name)
        with malformed(directory):
            model = cls(**header["params"])
            model.classes_ = np.asarray(header["classes"], dtype=np.int64)
            model._load_state(directory, header["meta"])
        return model

    def _save_state(self, directory: Path) -> dict:
        raise NotImplementedError

    def _load_state(self, directory: Path, meta: dict) -> None:
        raise NotImplementedError


def _jsonable_params(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def load_model(directory: str | Path) -> BaseModel:
    """Load any saved model, dispatching on the registered name in its `model.json`."""
    from gunshot_bench.models.registry import model_class

    header = read_json(Path(directory) / HEADER, expect=dict)
    with malformed(Path(directory) / HEADER):
        cls = model_class(header["model"])
    return cls.load(directory)
