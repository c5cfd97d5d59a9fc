"""The single registry of models: every baseline is a class registered under a name.

Example:
    >>> from gunshot_bench.models import get
    >>> get("lda").__class__.__name__
    'LDAClassifier'
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math

from gunshot_bench.errors import UserError

_REGISTRY: dict[str, type] = {}
#: The module that registers each built-in model. A name is looked up by importing only its
#: module: loading a two-stage AudioResNet for `predict` then does not import hmmlearn, the
#: MFCC code or the embedding encoders (tens of MB of resident memory; docs/performance.md).
#: `tests/test_models.py` checks that this table is exactly what the modules register.
BUILTIN = {
    "audioresnet_flat": "gunshot_bench.models.audioresnet",
    "audioresnet_two_stage": "gunshot_bench.models.two_stage",
    "cnn": "gunshot_bench.models.cnn",
    "svm": "gunshot_bench.models.classical",
    "lda": "gunshot_bench.models.classical",
    "gmm": "gunshot_bench.models.classical",
    "hmm": "gunshot_bench.models.classical",
    "embedding_probe": "gunshot_bench.models.embedding",
    "embedding_finetune": "gunshot_bench.models.embedding_finetune",
    "embedding_two_stage": "gunshot_bench.models.embedding_two_stage",
    "embedding_finetune_two_stage": "gunshot_bench.models.embedding_two_stage",
}


def register(name: str):
    """Class decorator adding an estimator class to the registry under `name`.

    Raises:
        ValueError: when `name` is already registered (two baselines must never share a name).
    """

    def decorator(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered "
                             f"(by {_REGISTRY[name].__module__}.{_REGISTRY[name].__name__})")
        if name in BUILTIN and cls.__module__ != BUILTIN[name]:
            raise ValueError(f"model name {name!r} belongs to a built-in model (of {BUILTIN[name]}); "
                             f"choose another name for {cls.__module__}.{cls.__name__}")
        cls.registered_name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def model_class(name: str) -> type:
    """The class registered under `name`; unknown names get close-match suggestions."""
    if name in BUILTIN:
        importlib.import_module(BUILTIN[name])  # registers it (once)
    else:
        _load_builtin()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown model {name!r}{hint} (available: {', '.join(available())})")
    return _REGISTRY[name]


def get(name: str, **params):
    """A new, unfitted estimator of the model registered as `name` with hyperparameters `params`.

    Raises:
        ValueError: a numeric hyperparameter outside what its default implies (see `check_params`).
    """
    cls = model_class(name)
    check_params(cls, params)
    return cls(**params)


def check_params(cls: type, params: dict) -> None:
    """Refuse numeric values that cannot be meant, judged against each parameter's default.

    A parameter whose default is a positive integer (a count: n_mfcc, n_components, epochs)
    takes integers >= 1; one whose default is a positive float (a rate or a scale) takes
    finite numbers >= 0. Anything else is left to the model.
    """
    signature = inspect.signature(cls.__init__)
    for key, value in params.items():
        param = signature.parameters.get(key)
        default = param.default if param is not None else None
        if isinstance(default, bool) or not isinstance(default, (int, float)) or default <= 0:
            continue
        where = f"{cls.registered_name} hyperparameter {key}"
        if isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{where} must be a whole number >= 1 (default {default}), got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise UserError(f"{where} must be a finite number >= 0 (default {default}), got {value!r}")


def available() -> list[str]:
    """Sorted names of all registered models."""
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    # Importing the modules registers the built-in models (idempotent); installed packages'
    # models join through the `gunshot_bench.models` entry points (imported once).
    for module in sorted(set(BUILTIN.values())):
        importlib.import_module(module)
    from gunshot_bench.plugins import load_entry_points

    load_entry_points()
