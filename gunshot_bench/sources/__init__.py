"""Collection loaders: one module per collection, each with `scan(root)` yielding clip records.

`SOURCE_KINDS` lists the kinds named on the command line (`--source KIND=PATH`);
`get_source(kind)` imports the kind's loader module.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gunshot_bench.errors import UserError
from gunshot_bench.sources.base import ClipRecord, SkippedFile

_KINDS = ("kaggle", "youtube", "baseline", "folder", "noise", "sim", "urbansound8k", "esc50", "fsd50k")


def get_source(kind: str) -> ModuleType:
    """The loader module of a collection kind; ValueError lists the known kinds."""
    if kind not in _KINDS:
        raise UserError(f"unknown source kind '{kind}'; known kinds: {', '.join(_KINDS)}")
    return importlib.import_module(f"gunshot_bench.sources.{kind}")


SOURCE_KINDS = _KINDS
__all__ = ["ClipRecord", "SkippedFile", "SOURCE_KINDS", "get_source"]
