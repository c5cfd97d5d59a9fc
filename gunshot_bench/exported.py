"""Inference of an exported run with numpy and onnxruntime alone: no torch, no scikit-learn.

`predict`'s default engine runs a run's ONNX export (`gunshot-bench export`). Loading the run
through `train.load_run` first would import torch (the checkpoint code, the networks' modules)
and scikit-learn (the models' base class, which pulls pandas and pyarrow): ~250 MB of resident
memory (`benchmarks/bench_predict_long.py --attribution-only`) for networks that onnxruntime
runs anyway. `load_exported(RUN_DIR)` reads what inference needs from the run's JSON files
instead: `config.json` (task, labels, thresholds), each network's `model.json` (classes,
feature statistics) and `onnx/manifest.json`. It checks them as `train.load_run` and
`export.attach_onnx` do: package and checkpoint versions, the task's labels, and every exported
network against its weights by sha256 (an export older than the weights is refused).

Its models compute what the torch models compute with the export attached
(`TorchClassifier.predict_proba`, `TwoStageAudioResNet.predict_proba`): the same log-STFT
(`features.log_stft`), in the same chunks, the same float32 standardisation (bit for bit,
tested) and the same onnxruntime session, hence the same logits. The softmax is numpy's where
the torch models call `torch.softmax`, whose CPU kernel has its own vectorised exp: the float32
probabilities agree to a few units in the last place (~1e-7, tested), labels and their order
alike, but not bit for bit.

Example:
    >>> loaded = load_exported("runs/two_stage")  # doctest: +SKIP
    >>> loaded.model.predict_proba(clips).shape  # doctest: +SKIP
    (4, 32)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gunshot_bench import taxonomy
from gunshot_bench.checkpoint import HEADER, WEIGHTS, check_package_version, malformed, read_header, read_json
from gunshot_bench.errors import UserError
from gunshot_bench.features import log_stft
from gunshot_bench.tasks import Task, get_task

ONNX_DIR = "onnx"
MANIFEST = "manifest.json"
INPUT, OUTPUT = "features", "logits"
#: The models whose exports this module runs: one network (`model`), or the two-stage model.
SINGLE = ("audioresnet_flat", "cnn")
TWO_STAGE = "audioresnet_two_stage"
# The torch models' chunking, kept so that each network sees the same batches as there:
# features of 128 clips at a time (torch_base._PREDICT_CHUNK, two_stage._CHUNK), the network
# 64 clips at a time (TorchClassifier.predict_proba_features).
_FEATURE_CHUNK = 128
_NET_BATCH = 64


def runtime_available() -> bool:
    """True when onnxruntime is installed: all that running an export needs (`onnx` itself, the
    graph library, is only for writing one; not importing it saves ~6 MB in `predict`)."""
    return importlib.util.find_spec("onnxruntime") is not None


def default_threads() -> int:
    """onnxruntime intra-op threads when none are given: `OMP_NUM_THREADS` if set (as torch
    reads it), else the CPUs this process may run on (torch's default here as well)."""
    try:
        return max(int(os.environ.get("OMP_NUM_THREADS", "")), 1)
    except ValueError:
        pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class OnnxSession:
    """An onnxruntime session of one exported network: float32 `[b, 1, F, T]` -> logits."""

    def __init__(self, path, threads: int | None = None):
        if not runtime_available():
            raise ImportError("running an ONNX export needs onnxruntime: "
                              "pip install 'gunshot-bench[onnx]'")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or default_threads())
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Idle threads sleep instead of spinning: on a shared, loaded CPU spinning steals time
        # from the working thread (measured +10 % clips/s with 2 threads at load average 8).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No per-session memory arena: a run's six sessions run one after another, and each arena
        # kept its batch's peak activations for good (~150 MB in all for 8 windows, measured
        # by benchmarks/bench_predict_long.py); freed buffers go back to malloc instead.
        opts.enable_cpu_mem_arena = False
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of a float32 batch `[b, 1, F, T]` as a numpy array."""
        return self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]


def read_manifest(onnx_dir) -> dict:
    """The manifest of an export directory; FileNotFoundError naming it when absent."""
    path = Path(onnx_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no ONNX export here; run `gunshot-bench export RUN_DIR "
                                f"--format onnx` first")
    return read_json(path, expect=dict)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def standardise(features: np.ndarray, mean: float, std: float) -> np.ndarray:
    """`(features - mean) / std` in float32, as `TorchClassifier._batch` computes it (torch casts
    the Python floats to float32 first: bit for bit the same, tested)."""
    return (np.asarray(features, dtype=np.float32) - np.float32(mean)) / np.float32(std)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of float32 logits (max subtracted first, so no overflow)."""
    z = np.asarray(logits, dtype=np.float32)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    z /= z.sum(axis=1, keepdims=True)
    return z


class ExportedClassifier:
    """One exported network with its classes and feature statistics (a `TorchClassifier`'s
    inference: `predict_proba_features`, `predict_proba`)."""

    def __init__(self, session: OnnxSession, classes, mean: float, std: float):
        self.session = session
        self.classes_ = np.asarray(classes, dtype=np.int64)
        self.mean, self.std = float(mean), float(std)

    def predict_proba_features(self, F: np.ndarray, standardised: np.ndarray | None = None) -> np.ndarray:
        """Probabilities `[n, n_classes]` from log-STFT features `F` (`standardised`: the same
        features already standardised with this network's statistics, to share the work)."""
        Z = standardise(F, self.mean, self.std) if standardised is None else standardised
        out = [softmax(self.session.logits(Z[s:s + _NET_BATCH, None])) for s in range(0, len(Z), _NET_BATCH)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities `[n, n_classes]` of float32 waveforms `[n, 88200]`."""
        X = np.asarray(X, dtype=np.float32)
        parts = [self.predict_proba_features(log_stft(X[s:s + _FEATURE_CHUNK]))
                 for s in range(0, len(X), _FEATURE_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)), np.float32)


class ConstantClassifier:
    """The sub-model of a category with one model in training (`two_stage.ConstantSubModel`)."""

    def __init__(self, model_id: int):
        self.classes_ = np.array([int(model_id)], dtype=np.int64)

    def predict_proba_features(self, F: np.ndarray, standardised=None) -> np.ndarray:
        return np.ones((len(F), 1), dtype=np.float32)


class ExportedTwoStage:
    """The two-stage model's `predict_proba`: p(category) * p(model | category) over `classes_`."""

    def __init__(self, classes, stage1: ExportedClassifier, stage2: dict):
        self.classes_ = np.asarray(classes, dtype=np.int64)
        self.stage1_, self.stage2_ = stage1, stage2

    def predict_proba(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        col = {int(m): i for i, m in enumerate(self.classes_)}
        parts = []
        for s in range(0, len(X), _FEATURE_CHUNK):
            F = log_stft(X[s:s + _FEATURE_CHUNK])
            shared: dict = {}  # the networks share their statistics: standardise once

            def z(net):
                key = (net.mean, net.std)
                if key not in shared:
                    shared[key] = standardise(F, *key)
                return shared[key]

            p_cat = self.stage1_.predict_proba_features(F, z(self.stage1_))
            out = np.zeros((len(F), len(self.classes_)), np.float32)
            for j, c in enumerate(self.stage1_.classes_):
                sub = self.stage2_[int(c)]
                cols = [col[int(m)] for m in sub.classes_]
                proba = sub.predict_proba_features(F, None if isinstance(sub, ConstantClassifier) else z(sub))
                out[:, cols] = p_cat[:, j:j + 1] * proba
            parts.append(out)
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)), np.float32)


@dataclass(frozen=True)
class ExportedRun:
    """What `predict` uses of a loaded run (`train.LoadedRun`'s fields of the same names)."""

    model: ExportedClassifier | ExportedTwoStage
    task: Task
    label_names: tuple
    config: dict
    run_dir: Path


def read_run_config(run_dir) -> tuple[dict, Task]:
    """A run's config.json and task, refusing another package version or other labels."""
    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json", expect=dict)
    check_package_version(config.get("package_version"), run_dir)
    task = get_task(config["task"])
    stored = tuple(config.get("label_names", ()))
    if stored != task.label_names:
        raise UserError(f"{run_dir}: the run's labels ({len(stored)}: {', '.join(stored[:5])}...) do "
                         f"not match task {task.name}'s labels in this version ({task.n_classes}: "
                         f"{', '.join(task.label_names[:5])}...); retrain the model")
    return config, task


def supports(run_dir) -> bool:
    """Whether `load_exported` runs this run's export (FileNotFoundError without an export)."""
    return read_manifest(Path(run_dir) / ONNX_DIR).get("model") in (*SINGLE, TWO_STAGE)


def load_exported(run_dir, threads: int | None = None) -> ExportedRun:
    """The run in `run_dir` with its networks on onnxruntime from `RUN_DIR/onnx` (see the module
    docstring); `threads`: onnxruntime intra-op threads (default `default_threads()`).

    Raises:
        FileNotFoundError: no export, or a file of the run is missing.
        UserError: the export is of another model, other classes or other weights; or the run
            was written by another version.
    """
    run_dir = Path(run_dir)
    config, task = read_run_config(run_dir)
    onnx_dir, model_dir = run_dir / ONNX_DIR, run_dir / "model"
    manifest = read_manifest(onnx_dir)
    name = config.get("model")
    if manifest.get("model") != name or name not in (*SINGLE, TWO_STAGE):
        raise UserError(f"{onnx_dir}: holds an export of {manifest.get('model')!r}; this run is a "
                         f"{name!r} model (exports of {', '.join((*SINGLE, TWO_STAGE))} run here)")
    header = read_header(model_dir, name)
    with malformed(model_dir / HEADER):
        if name == TWO_STAGE:
            first = read_header(model_dir / "category")
            constant = header["meta"]["constant"]
            dirs = {"category": model_dir / "category"}
            dirs.update({taxonomy.CATEGORIES[int(c)]: model_dir / taxonomy.CATEGORIES[int(c)]
                         for c in first["classes"] if taxonomy.CATEGORIES[int(c)] not in constant})
        else:
            dirs = {"model": model_dir}
    if set(manifest["networks"]) != set(dirs):
        raise UserError(f"{onnx_dir}: the export holds {manifest.get('model')} networks "
                         f"{sorted(manifest['networks'])}, the model {name} has "
                         f"{sorted(dirs)}; export this run again")
    nets = {key: _network(onnx_dir, manifest["networks"][key], directory, threads)
            for key, directory in dirs.items()}
    with malformed(model_dir / HEADER):
        classes = header["classes"]
        if name == TWO_STAGE:
            stage2 = {}
            for c in nets["category"].classes_:
                cat = taxonomy.CATEGORIES[int(c)]
                stage2[int(c)] = ConstantClassifier(constant[cat]) if cat in constant else nets[cat]
            model = ExportedTwoStage(classes, nets["category"], stage2)
        else:
            model = nets["model"]
    bad = [int(c) for c in model.classes_ if not 0 <= int(c) < task.n_classes]
    if bad:
        raise UserError(f"{run_dir}: model classes {bad} are outside task {task.name}'s "
                         f"{task.n_classes} labels")
    return ExportedRun(model, task, tuple(config["label_names"]), config, run_dir)


def _network(onnx_dir: Path, entry: dict, directory: Path, threads: int | None) -> ExportedClassifier:
    header = read_header(directory)
    with malformed(directory / HEADER):
        classes, stats = header["classes"], header["meta"]["stats"]
        mean, std = float(stats["mean"]), float(stats["std"])
    if entry["classes"] != classes or entry["weights_sha256"] != sha256_of(directory / WEIGHTS):
        raise UserError(f"{onnx_dir / entry['file']}: exported from other weights than "
                         f"{directory}; export this run again")
    return ExportedClassifier(OnnxSession(onnx_dir / entry["file"], threads), classes, mean, std)
