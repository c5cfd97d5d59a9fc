"""The single registry of models: every baseline is a class registered under a name.

Example:
    >>> from gunshot_bench.models import get
    >>> get("lda").__class__.__name__
    'LDAClassifier'
"""

from __future__ import annotations

import difflib

_REGISTRY: dict[str, type] = {}


def register(name: str):
    """Class decorator adding an estimator class to the registry under `name`.

    Raises:
        ValueError: when `name` is already registered (two baselines must never share a name).
    """

    def decorator(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered "
                             f"(by {_REGISTRY[name].__module__}.{_REGISTRY[name].__name__})")
        cls.registered_name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def model_class(name: str) -> type:
    """The class registered under `name`; unknown names get close-match suggestions."""
    _load_builtin()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}{hint} (available: {', '.join(available())})")
    return _REGISTRY[name]


def get(name: str, **params):
    """A new, unfitted estimator of the model registered as `name` with hyperparameters `params`."""
    return model_class(name)(**params)


def available() -> list[str]:
    """Sorted names of all registered models."""
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    # Importing the package registers the built-in models (idempotent); installed packages'
    # models join through the `gunshot_bench.models` entry points (imported once).
    import gunshot_bench.models  # noqa: F401
    from gunshot_bench.plugins import load_entry_points

    load_entry_points()
