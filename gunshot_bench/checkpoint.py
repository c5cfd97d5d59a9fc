"""Checkpoint files that never execute code when read: JSON, `.npz` and torch state dicts.

Torch weights are `torch.save` of a state dict, read back with `torch.load(weights_only=True)`.
scikit-learn and hmmlearn estimators are stored as their hyperparameters (JSON) plus their
fitted attributes (numeric arrays in an `.npz` read with `allow_pickle=False`, scalars in JSON)
and rebuilt by constructing a fresh estimator and setting the attributes back. No pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gunshot_bench import __version__

#: Version of the checkpoint layout and of what its saved hyperparameters mean. 2: AudioResNet
#: gained `stem_stride` (default 4); a format-1 checkpoint without it used a stride-2 stem, so
#: reading it with today's defaults would silently build another network.
FORMAT_VERSION = 2


def write_json(path: Path, obj) -> None:
    """Write `obj` as indented JSON (tuples become lists, numpy scalars become numbers)."""
    Path(path).write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path: Path):
    """Read a JSON file; a missing file is a FileNotFoundError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file missing")
    return json.loads(path.read_text())


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to a checkpoint JSON")


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Numeric arrays to an `.npz` (object arrays are refused: they would need pickle)."""
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Arrays from an `.npz`, refusing pickled objects."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_state_dict(path: Path, module: torch.nn.Module) -> None:
    """A torch module's weights (tensors only)."""
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, path)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Weights saved by `save_state_dict`, loaded without executing code (`weights_only=True`)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def check_package_version(found: str | None, where: Path) -> None:
    """Refuse a checkpoint written by another package version, naming both versions."""
    if found != __version__:
        raise ValueError(f"{where}: checkpoint written by gunshot-bench {found}, but this is "
                         f"gunshot-bench {__version__}; retrain the model with this version "
                         f"(or install gunshot-bench=={found})")


_SCALARS = (bool, int, float, str, type(None))


def estimator_state(est) -> tuple[dict, dict[str, np.ndarray]]:
    """The fitted attributes of a scikit-learn style estimator: (JSON scalars, numeric arrays).

    Hyperparameters are not included (they come from `get_params`). Attributes that a freshly
    constructed estimator already has (e.g. hmmlearn's convergence monitor) are skipped;
    anything else that is neither numeric nor a plain scalar is refused.
    """
    fresh = type(est)(**est.get_params())
    params = set(est.get_params())
    scalars, arrays = {}, {}
    for key, value in vars(est).items():
        if key in params:
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            arrays[key] = value
        elif isinstance(value, (np.integer, np.floating, np.bool_)):
            scalars[key] = value.item()
        elif isinstance(value, _SCALARS):
            scalars[key] = value
        elif isinstance(value, (tuple, list)) and all(
                isinstance(v, _SCALARS + (np.integer, np.floating, np.bool_)) for v in value):
            plain = [v.item() if isinstance(v, np.generic) else v for v in value]
            scalars[key] = {"tuple" if isinstance(value, tuple) else "list": plain}
        elif key in vars(fresh):
            continue
        else:
            raise TypeError(f"{type(est).__name__}.{key} ({type(value).__name__}) cannot be "
                            "stored without pickle")
    return scalars, arrays


def restore_estimator(cls, params: dict, scalars: dict, arrays: dict[str, np.ndarray]):
    """Rebuild an estimator saved by `estimator_state`."""
    est = cls(**params)
    for key, value in scalars.items():
        if isinstance(value, dict):  # a tuple or list, marked because JSON has only lists
            value = tuple(value["tuple"]) if "tuple" in value else list(value["list"])
        setattr(est, key, value)
    for key, value in arrays.items():
        setattr(est, key, value)
    return est
