"""The registry of encoders: a name maps to a factory that builds the encoder on demand.

Factories are called only when an encoder is needed, so registering one never loads weights.
Built-in encoders register when `gunshot_bench.encoders` is imported; installed packages add
theirs through the `gunshot_bench.encoders` entry-point group (the entry point names a
zero-argument-or-keyword factory returning an `Encoder`).

Example:
    >>> from gunshot_bench.encoders import available_encoders
    >>> "aisfx" in available_encoders()
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from importlib.metadata import entry_points

from gunshot_bench.encoders.base import Encoder, EncoderUnavailable
from gunshot_bench.errors import UserError

_FACTORIES: dict[str, Callable[..., Encoder]] = {}
_CHECKS: dict[str, Callable[[], str | None]] = {}
_CACHE: dict[tuple, Encoder] = {}
_ENTRY_POINTS_LOADED = False


def register_encoder(name: str, factory: Callable[..., Encoder] | None = None, *,
                     unavailable_reason: Callable[[], str | None] | None = None):
    """Register `factory` (a callable of keyword parameters returning an `Encoder`) as `name`.

    Usable as a decorator. `unavailable_reason()` returns None when the encoder can be built
    here, else one line saying what to install (checked without loading any weights).

    Raises:
        ValueError: `name` is already registered.
    """

    def decorator(fn):
        if name in _FACTORIES:
            raise ValueError(f"encoder name {name!r} is already registered")
        _FACTORIES[name] = fn
        if unavailable_reason is not None:
            _CHECKS[name] = unavailable_reason
        return fn

    return decorator(factory) if factory is not None else decorator


def unregister_encoder(name: str) -> None:
    """Remove `name` (for tests and notebooks that register temporary encoders)."""
    _FACTORIES.pop(name, None)
    _CHECKS.pop(name, None)
    for key in [k for k in _CACHE if k[0] == name]:
        del _CACHE[key]


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in entry_points(group="gunshot_bench.encoders"):
        if ep.name not in _FACTORIES:
            _FACTORIES[ep.name] = ep.load()


def available_encoders() -> list[str]:
    """Sorted names of every registered encoder (whether or not its weights are installed)."""
    _load_entry_points()
    return sorted(_FACTORIES)


def _check_name(name: str) -> None:
    _load_entry_points()
    if name not in _FACTORIES:
        close = difflib.get_close_matches(name, list(_FACTORIES), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown encoder {name!r}{hint} (available: {', '.join(available_encoders())})")


def encoder_unavailable_reason(name: str) -> str | None:
    """None when encoder `name` can be built here, else one line saying what to install."""
    _check_name(name)
    check = _CHECKS.get(name)
    return check() if check is not None else None


def get_encoder(name: str, **params) -> Encoder:
    """The encoder `name` built with `params` (built once per process and parameter set).

    Raises:
        ValueError: an unknown name (with close matches).
        EncoderUnavailable: its weights or extra are not installed (the message says which).
    """
    _check_name(name)
    reason = encoder_unavailable_reason(name)
    if reason is not None:
        raise EncoderUnavailable(f"encoder {name!r} is not available: {reason}")
    key = (name, tuple(sorted((k, repr(v)) for k, v in params.items())))
    if key not in _CACHE:
        _CACHE[key] = _FACTORIES[name](**params)
    return _CACHE[key]


def clear_encoder_cache() -> None:
    """Forget built encoders (tests that re-register a name call this)."""
    _CACHE.clear()
