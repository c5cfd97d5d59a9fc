"""ONNX export of a trained run's networks, and onnxruntime inference behind the same models.

`export_onnx(RUN_DIR)` writes `RUN_DIR/onnx/`: one `.onnx` file per network of the run (the
two-stage model: `category.onnx` and one file per trained sub-model; the flat AudioResNet and
the CNN: `model.onnx`) plus `manifest.json`. Each graph is the batch-norm-folded inference
network (`TorchClassifier.inference_net`): standardised log-STFT `[batch, 1, 512, 345]` in,
logits out, with a dynamic batch axis. Every export is checked on the spot: onnxruntime's
logits must match torch's within `atol` (stored in the manifest with the max difference).

`attach_onnx(model, RUN_DIR/onnx)` makes an already loaded model run its networks through
onnxruntime: features, routing and softmax stay the library's own code, so only the network
changes and `predict`/`predict_proba`/`describe` keep their meaning. `predict` itself runs an export of
the built-in network models without loading the model at all (`gunshot_bench.exported`: numpy
and onnxruntime, no torch); `attach_onnx` serves the other models and library callers. The manifest stores the
sha256 of each weight file, so an export older than the weights is refused.

Why onnxruntime: on one CPU thread it runs the AudioResNet ~3-5x faster than eager torch
(measured in `benchmarks/bench_inference.py`), which is what single-clip latency and
`predict` on long recordings need.

Example:
    >>> paths = export_onnx("runs/two_stage")  # doctest: +SKIP
    >>> loaded = load_run("runs/two_stage"); attach_onnx(loaded.model, "runs/two_stage/onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gunshot_bench.checkpoint import WEIGHTS
from gunshot_bench.errors import UserError
from gunshot_bench.exported import (INPUT, MANIFEST, ONNX_DIR, OUTPUT, OnnxSession, read_manifest,
                                    runtime_available, sha256_of)
from gunshot_bench.features import log_stft_shape
from gunshot_bench.models.torch_base import TorchClassifier
from gunshot_bench.rng import derive_rng

OPSET = 17
__all__ = ["INPUT", "MANIFEST", "ONNX_DIR", "OUTPUT", "OnnxNet", "attach_onnx", "export_onnx",
           "networks", "onnx_available", "read_manifest", "runtime_available"]


def onnx_available() -> bool:
    """True when both `onnx` and `onnxruntime` import (the optional `[onnx]` extra)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _require_onnx() -> None:
    if not onnx_available():
        raise ImportError("ONNX export and inference need the optional extra: "
                          "pip install 'gunshot-bench[onnx]' (onnx + onnxruntime)")


def networks(model, model_dir: Path | None = None) -> dict[str, tuple[TorchClassifier, Path | None]]:
    """The torch networks of a fitted model: {export name: (classifier, its checkpoint dir)}.

    Two-stage: "category" and one entry per trained sub-model (constant sub-models have no
    network); a single torch classifier: "model". Classical models have none (ValueError).
    """
    from gunshot_bench import taxonomy

    if isinstance(model, TorchClassifier):
        return {"model": (model, model_dir)}
    if hasattr(model, "stage1_") and hasattr(model, "stage2_"):
        out = {"category": (model.stage1_, None if model_dir is None else model_dir / "category")}
        for c, sub in sorted(model.stage2_.items()):
            if isinstance(sub, TorchClassifier):
                name = taxonomy.CATEGORIES[int(c)]
                out[name] = (sub, None if model_dir is None else model_dir / name)
        return out
    raise UserError(f"a {getattr(model, 'registered_name', type(model).__name__)} model has no "
                     f"neural network to export to ONNX (only AudioResNet and CNN models do)")


def export_onnx(run_dir, out_dir=None, opset: int = OPSET, atol: float = 1e-4) -> list[Path]:
    """Export every network of the run in `run_dir` to ONNX; returns the written `.onnx` paths.

    Args:
        run_dir: a run directory written by `train_run` (holds `config.json` and `model/`).
        out_dir: where to write (default `run_dir/onnx`); replaced files are overwritten.
        opset: ONNX opset version.
        atol: largest accepted |onnxruntime - torch| logit difference on a check input.

    Raises:
        ImportError: onnx/onnxruntime are not installed.
        ValueError: the run's model has no network, or an export does not match torch.
    """
    _require_onnx()
    from gunshot_bench.train import load_run

    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / ONNX_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    loaded = load_run(run_dir)
    n_bins, n_frames = log_stft_shape()
    check = torch.from_numpy(derive_rng(0, "onnx_export_check").standard_normal(
        (2, 1, n_bins, n_frames)).astype(np.float32))
    entries, paths = {}, []
    for name, (clf, ckpt) in networks(loaded.model, run_dir / "model").items():
        net = exportable(clf.inference_net(), check[:1])
        path = out_dir / f"{name}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(net, (check[:1],), str(path), dynamo=False, opset_version=opset,
                              input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})
        with torch.inference_mode():
            expected = net(check).numpy()
        got = OnnxNet(path, threads=1).logits(check.numpy())
        diff = float(np.abs(got - expected).max())
        if not diff <= atol:
            raise ValueError(f"{path}: onnxruntime logits differ from torch by {diff:.2e} (> {atol})")
        entries[name] = {"file": path.name, "classes": clf.classes_.tolist(),
                         "weights_sha256": sha256_of(ckpt / WEIGHTS), "max_abs_diff": diff}
        paths.append(path)
    (out_dir / MANIFEST).write_text(json.dumps(
        {"model": loaded.model.registered_name, "opset": opset, "input": INPUT, "output": OUTPUT,
         "input_shape": ["batch", 1, n_bins, n_frames], "networks": entries}, indent=2) + "\n")
    return paths


class FixedAdaptiveMaxPool2d(nn.Module):
    """`nn.AdaptiveMaxPool2d` for one known input size, as slices and maxima.

    Why by hand: the TorchScript ONNX exporter refuses `adaptive_max_pool2d` when the input size is
    not a multiple of the output size (the CNN pools 21 time frames into 4 bins). The bins are
    torch's (rows floor(i*n/out) to ceil((i+1)*n/out)) and a maximum is exact, so the values are
    identical; the slice bounds are constants of the graph, which the fixed input shape allows.
    """

    def __init__(self, output_size: tuple[int, int], input_size: tuple[int, int]):
        super().__init__()
        self.bins = [[(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]
                     for out, n in zip(output_size, input_size)]

    def forward(self, x):
        (rows, cols) = self.bins
        return torch.stack([torch.stack([x[:, :, h0:h1, w0:w1].amax(dim=(2, 3)) for w0, w1 in cols], dim=-1)
                            for h0, h1 in rows], dim=-2)


def exportable(net: nn.Module, example: torch.Tensor) -> nn.Module:
    """`net`, or a copy of it whose adaptive max pools are fixed to the sizes `example` gives them.

    The network itself is never changed (the copy is what gets exported).
    """
    names = [n for n, m in net.named_modules() if isinstance(m, nn.AdaptiveMaxPool2d)]
    if not names:
        return net
    net = copy.deepcopy(net)
    sizes: dict[str, tuple[int, int]] = {}
    hooks = [net.get_submodule(n).register_forward_pre_hook(
        lambda m, args, n=n: sizes.__setitem__(n, tuple(args[0].shape[-2:]))) for n in names]
    with torch.inference_mode():
        net(example)
    for h in hooks:
        h.remove()
    for n in names:
        out = net.get_submodule(n).output_size  # an int, or a pair whose None keeps that size
        out = (out, out) if isinstance(out, int) else out
        out = tuple(size if o is None else o for o, size in zip(out, sizes[n]))
        parent, _, child = n.rpartition(".")
        setattr(net.get_submodule(parent), child, FixedAdaptiveMaxPool2d(out, sizes[n]))
    return net


class OnnxNet(OnnxSession):
    """An onnxruntime session called like the torch network: `[b, 1, F, T]` tensor -> logits
    tensor (threads: torch's current thread count unless given)."""

    def __init__(self, path, threads: int | None = None):
        if not runtime_available():
            _require_onnx()  # its message names the extra
        super().__init__(path, int(threads or torch.get_num_threads()))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.logits(x.numpy()))


def attach_onnx(model, onnx_dir, model_dir=None, threads: int | None = None):
    """Run `model`'s networks through onnxruntime from the export in `onnx_dir`; returns `model`.

    Args:
        model: the loaded model of the run that was exported.
        onnx_dir: the export directory (`RUN_DIR/onnx`).
        model_dir: the run's `model/` directory; when given, each network's weights must have
            the sha256 stored at export time (a re-trained run with a stale export is refused).
        threads: onnxruntime intra-op threads (default: torch's current thread count).

    Raises:
        ValueError: the export does not belong to this model (names, classes or weights differ).
    """
    onnx_dir = Path(onnx_dir)
    manifest = read_manifest(onnx_dir)
    nets = networks(model, None if model_dir is None else Path(model_dir))
    if manifest.get("model") != model.registered_name or set(manifest["networks"]) != set(nets):
        raise UserError(f"{onnx_dir}: the export holds {manifest.get('model')} networks "
                         f"{sorted(manifest['networks'])}, the model {model.registered_name} has "
                         f"{sorted(nets)}; export this run again")
    for name, (clf, ckpt) in nets.items():
        entry = manifest["networks"][name]
        if entry["classes"] != clf.classes_.tolist() or (
                ckpt is not None and entry["weights_sha256"] != sha256_of(ckpt / WEIGHTS)):
            raise UserError(f"{onnx_dir / entry['file']}: exported from other weights than "
                             f"{ckpt or name}; export this run again")
        clf.use_inference_net(OnnxNet(onnx_dir / entry["file"], threads))
    return model
