"""Models: one registry, every model a scikit-learn style estimator over raw waveforms.

`fit(X, y, X_val=None, y_val=None) -> self`, `predict`, `predict_proba`, `save(dir)`,
`load(dir)`; `X` is float32 `[n, 88200]` at 44.1 kHz and each model computes its own features.
A model's module is imported when its name is first looked up (`registry.BUILTIN`), so
importing this package loads no model code.
"""

from gunshot_bench.models.registry import available, get, model_class, register
from gunshot_bench.models.base import load_model  # noqa: E402

__all__ = ["available", "get", "load_model", "model_class", "register"]
