"""Reading pretrained checkpoints without executing code.

`torch.load(weights_only=True)` unpickles only tensors, containers and the globals allowed
here; anything else (an object whose `__reduce__` would run code) is refused with a one-line
`UnsafeCheckpoint` naming the file and the global it tried to load. `weights_only=False` is
never used.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from pathlib import Path

import torch

from gunshot_bench.errors import UserError


class UnsafeCheckpoint(UserError):
    """A checkpoint that is not plain weights (or is not readable as one)."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_load(path: str | Path, allowed_globals: list = ()):
    """The object in a torch checkpoint, unpickled with only tensors and `allowed_globals`.

    Args:
        allowed_globals: extra globals to allow, as torch's `safe_globals` takes them
            (an object, or `(object, "module.qualname")` for one saved under an old name).

    Raises:
        FileNotFoundError: no file at `path`.
        UnsafeCheckpoint: the file holds anything else (one line naming the file and the global).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals(list(allowed_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        found = re.search(r"(?:Unsupported global: |unsupported )GLOBAL ([\w.]+)", str(exc))
        reason = (f"it holds the Python global {found.group(1)}, which is not on the allow-list "
                  "(a pickled object could run code when loaded)") if found else \
            f"not a readable torch checkpoint ({type(exc).__name__})"
        raise UnsafeCheckpoint(f"{path}: refused to load: {reason}") from None
