"""Checkpoint files that never execute code when read: JSON, `.npz` and torch state dicts.

Torch weights are `torch.save` of a state dict, read back with `torch.load(weights_only=True)`.
scikit-learn and hmmlearn estimators are stored as their hyperparameters (JSON) plus their
fitted attributes (numeric arrays in an `.npz` read with `allow_pickle=False`, scalars in JSON)
and rebuilt by constructing a fresh estimator and setting the attributes back. No pickle.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gunshot_bench import __version__
from gunshot_bench.errors import UserError

if TYPE_CHECKING:
    import torch

#: Version of the checkpoint layout and of what its saved hyperparameters mean. 2: AudioResNet
#: gained `stem_stride` (default 4); a format-1 checkpoint without it used a stride-2 stem, so
#: reading it with today's defaults would silently build another network.
FORMAT_VERSION = 2
#: A saved model's header (models.base) and a torch network's weights (models.torch_base).
HEADER, WEIGHTS = "model.json", "weights.pt"


class CheckpointError(UserError):
    """A checkpoint file that is damaged or not what a model wrote (a one-line user error)."""


@contextmanager
def malformed(where: Path):
    """Turn the errors a damaged checkpoint causes while a model is rebuilt (missing keys, wrong
    types, state-dict keys or shapes that do not fit) into one CheckpointError naming `where`.
    The original error stays attached as the cause (`gunshot-bench -v` shows it)."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"{where}: malformed checkpoint ({type(exc).__name__}: {detail:.200}); "
                              "retrain the model or restore the run directory") from exc


def write_json(path: Path, obj) -> None:
    """Write `obj` as indented JSON (tuples become lists, numpy scalars become numbers)."""
    Path(path).write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path: Path, expect: type | None = None):
    """Read a JSON file; a missing file is a FileNotFoundError naming it, a damaged one (or,
    with `expect`, one holding another JSON type) a CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if expect is not None and not isinstance(data, expect):
        raise CheckpointError(f"{path}: expected a JSON {expect.__name__}, found a {type(data).__name__}")
    return data


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
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise FileNotFoundError(f"{path}: checkpoint file missing") from None
        raise CheckpointError(f"{path}: not a readable array file ({str(exc).strip()[:200]})") from exc


def save_state_dict(path: Path, module: torch.nn.Module) -> None:
    """A torch module's weights (tensors only)."""
    import torch  # here, not at the top: `predict` on an ONNX export reads checkpoints without torch

    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, path)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Weights saved by `save_state_dict`, loaded without executing code (`weights_only=True`)."""
    import torch  # see save_state_dict

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: not a readable torch state dict ({first[:200]})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return state


def check_package_version(found: str | None, where: Path) -> None:
    """Refuse a checkpoint written by another package version, naming both versions."""
    if found != __version__:
        raise ValueError(f"{where}: checkpoint written by gunshot-bench {found}, but this is "
                         f"gunshot-bench {__version__}; retrain the model with this version "
                         f"(or install gunshot-bench=={found})")


def read_header(directory: Path, model: str | None = None) -> dict:
    """A saved model's `model.json`, refusing another package version, checkpoint format or
    (when given) another registered model."""
    directory = Path(directory)
    header = read_json(directory / HEADER, expect=dict)
    check_package_version(header.get("package_version"), directory)
    if header.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{directory}: checkpoint format {header.get('format_version')}, but this "
                         f"version reads format {FORMAT_VERSION}; retrain the model")
    if model is not None and header.get("model") != model:
        raise UserError(f"{directory}: holds a {header.get('model')!r} model, not {model!r}")
    return header


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
