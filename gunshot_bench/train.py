"""Training runs: one model, one task, one seed, from a dataset folder to a run directory.

The protocol is study A's (`TrainConfig`); every field can be overridden from a baseline file
in `gunshot_bench/baselines/` or the CLI. A run directory holds:

- `config.json`: model name, task, seed, training config, model hyperparameters, label names,
  dataset name/version/fingerprint, package version, `init_from`, validation metrics;
- `history.json` and `history.png`: train/validation loss and accuracy per epoch;
- `model/`: the checkpoint (`model.json` + weights or fitted arrays; see `checkpoint`).

Example:
    >>> result = train_run("data", "cnn", "detection", seed=0, out_dir="runs/m1")  # doctest: +SKIP
    >>> loaded = load_run("runs/m1")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from gunshot_bench import __version__, taxonomy
from gunshot_bench.checkpoint import check_package_version, read_json, write_json
from gunshot_bench.decision import decide, decision_warning
from gunshot_bench.errors import UserError
from gunshot_bench.models import get, load_model, model_class
from gunshot_bench.onsets import threshold_from_dataset
from gunshot_bench.repro import code_provenance, deterministic
from gunshot_bench.tasks import Task, get_task
from gunshot_bench.train_config import TrainConfig

log = logging.getLogger(__name__)


def _package_baselines() -> Path:
    """The folder of the package's own leaderboard entries (`gunshot_bench/baselines/*.toml`).

    They ship as package data, so a wheel install finds them as an editable one does. pip unpacks
    every wheel onto disk, so the resource is a real folder (callers glob it); a package imported
    from a zip file is not supported and says so.
    """
    folder = resources.files("gunshot_bench") / "baselines"
    if not isinstance(folder, Path):
        raise RuntimeError(f"gunshot_bench is not installed as files on disk ({folder!r}); reinstall it with pip")
    return folder


#: The one locator of the package's leaderboard entries (plugins add their own folders).
BASELINES_DIR = _package_baselines()
_RESERVED = {"random_state", "progress"}
#: Baseline tables that configure the run rather than the model: `[augment]`, `[decision]`.
RUN_TABLES = ("augment", "decision")


@dataclass(frozen=True)
class RunResult:
    """What `train_run` produced: the fitted model and its validation scores."""

    out_dir: Path
    model: object
    metrics: dict
    wall_time_s: float
    n_params: int | None
    flops_per_clip: int | None = None


@dataclass(frozen=True)
class LoadedRun:
    """A run directory read back by `load_run`."""

    model: object
    task: Task
    label_names: tuple[str, ...]
    config: dict
    dataset_version: str | None
    package_version: str
    run_dir: Path = field(default=Path("."))


def split_overrides(model_name: str, overrides: dict | None) -> tuple[TrainConfig, dict]:
    """Split flat overrides into a `TrainConfig` and model hyperparameters (unknown keys refused)."""
    overrides = {k: v for k, v in (overrides or {}).items() if k not in RUN_TABLES}
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**{k: overrides.pop(k) for k in list(overrides) if k in train_keys})
    accepted = set(model_class(model_name)().get_params()) - _RESERVED
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise UserError(f"model {model_name!r} has no parameter {', '.join(unknown)}; it takes "
                         f"{', '.join(sorted(accepted | train_keys))}")
    return config, overrides


def baseline_path(name: str) -> Path:
    """`<name>.toml` in the package (`BASELINES_DIR`), else beside a loaded plugin (see gunshot_bench.plugins)."""
    from gunshot_bench.plugins import baseline_dirs

    for folder in (BASELINES_DIR, *baseline_dirs()):
        if (folder / f"{name}.toml").is_file():
            return folder / f"{name}.toml"
    return BASELINES_DIR / f"{name}.toml"


def load_baseline(path_or_name: str | Path, profile: str | None = None) -> dict:
    """Read a leaderboard entry `<name>.toml` (see `baseline_path`): {name, model, tasks, description, overrides}.

    `[params]` and `[train]` give the overrides; `[profiles.<profile>]` (e.g. `small`) with its
    own `params`/`train` tables is laid over them.
    """
    path = Path(path_or_name)
    if not path.suffix:
        path = baseline_path(str(path_or_name))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such baseline file")
    spec = tomllib.loads(path.read_text())
    prof = None
    overrides = {**spec.get("params", {}), **spec.get("train", {})}
    if profile is not None:
        prof = spec.get("profiles", {}).get(profile)
        if prof is None:
            raise UserError(f"{path}: no profile {profile!r} (has: {', '.join(spec.get('profiles', {}))})")
        overrides.update({**prof.get("params", {}), **prof.get("train", {})})
    for table in RUN_TABLES:
        if table in spec or table in (prof or {}):
            overrides[table] = {**spec.get(table, {}), **(prof or {}).get(table, {})}
    try:
        split_overrides(spec["model"], overrides)  # validates the keys now, naming the file
        run_options(overrides)
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None
    return {"name": spec.get("name", path.stem), "model": spec["model"],
            "tasks": list(spec.get("tasks", [])), "description": spec.get("description", ""),
            "overrides": overrides, "path": str(path)}


def run_options(overrides: dict | None):
    """(AugmentConfig or None, DecisionConfig) of the `[augment]`/`[decision]` tables in `overrides`."""
    from gunshot_bench.augment import AugmentConfig
    from gunshot_bench.decision import DecisionConfig

    overrides = overrides or {}
    return AugmentConfig.from_dict(overrides.get("augment")), DecisionConfig.from_dict(overrides.get("decision"))


def dataset_info(data_dir: Path) -> dict:
    """Name, version and fingerprint from `DIR/manifest.json` (None where absent)."""
    manifest = Path(data_dir) / "manifest.json"
    info = read_json(manifest) if manifest.is_file() else {}
    return {"name": info.get("name"), "version": info.get("version"),
            "fingerprint": info.get("fingerprint")}


def load_task_split(data_dir: Path, task: Task, split: str, protocol: str = "grouped"):
    """(waveforms, labels, frame) of one split (under a split protocol, see `dataset.split`)
    restricted to the task's labelled rows."""
    from gunshot_bench.dataset.read import load_protocol_arrays

    X, frame = load_protocol_arrays(Path(data_dir), task.config, split, protocol)
    if len(frame) == 0:
        return X[:0], np.zeros(0, np.int64), frame
    mask, y = task.select(frame)
    return X[mask], y, frame[mask].reset_index(drop=True)


def load_task_split_to_disk(data_dir: Path, task: Task, split: str, cache_dir: Path):
    """`load_task_split` (grouped protocol) with the waveforms decoded row group by row group to
    a disk-backed array in `cache_dir` (`dataset.read.DiskArray`): the same rows and values."""
    from gunshot_bench.dataset.read import load_arrays_to_disk

    labels = {}

    def keep(frame):
        mask, labels["y"] = task.select(frame)
        return mask

    X, frame = load_arrays_to_disk(Path(data_dir), task.config, split, cache_dir, keep)
    return X, labels.get("y", np.zeros(0, np.int64)), frame


def check_training_labels(task: Task, y: np.ndarray, where: str) -> None:
    """Refuse, before training, a training split missing a category (or a detection class)."""
    cats = task.categories_of(y)
    if cats is not None:
        missing = [taxonomy.CATEGORIES[c] for c in range(len(taxonomy.CATEGORIES)) if c not in set(cats)]
        if missing:
            raise UserError(f"{where}: no training clips of categor{'y' if len(missing) == 1 else 'ies'} "
                             f"{', '.join(missing)} for task {task.name}; every category needs training "
                             "clips (add recordings of it, or rebuild with other sources)")
    elif len(np.unique(y)) < task.n_classes:
        missing = [task.label_names[i] for i in range(task.n_classes) if i not in set(y)]
        raise UserError(f"{where}: no training clips labelled {', '.join(missing)} for task {task.name}")


def train_run(data_dir, model_name: str, task: str, seed: int, out_dir,
              overrides: dict | None = None, init_from=None, progress: bool = True,
              protocol: str = "grouped", stream: bool = False) -> RunResult:
    """Train `model_name` on `task` with `seed` and write the run directory `out_dir`.

    Args:
        data_dir: a built dataset folder.
        overrides: TrainConfig fields and model hyperparameters (e.g. {"max_epochs": 8}).
        init_from: a run directory to fine-tune from (study B's Models 2 and 3); same model
            and labels required.
        protocol: the split protocol, "grouped" (leak-free, the default) or "segment"
            (study A's random split of segments); see `dataset.split`.
        stream: keep the waveforms and the torch models' features on disk (a temporary folder)
            and read one batch at a time, so memory does not grow with the training split; the
            same samples, order and batches, so the same model (tested). Grouped protocol and
            no augmentation only; classical models still read their whole split.

    Raises:
        ValueError: unknown model/task/override, a category without training clips, or an
            `init_from` run of another model or label set.
    """
    if stream:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="gunshot-bench-stream-") as cache:
            return _train_run(data_dir, model_name, task, seed, out_dir, overrides, init_from, progress,
                              protocol, Path(cache))
    return _train_run(data_dir, model_name, task, seed, out_dir, overrides, init_from, progress, protocol, None)


def _train_run(data_dir, model_name: str, task: str, seed: int, out_dir, overrides, init_from, progress: bool,
               protocol: str, cache: Path | None) -> RunResult:
    start = time.perf_counter()
    task_obj = get_task(task)
    config, params = split_overrides(model_name, overrides)
    augment, decision_config = run_options(overrides)
    if cache is not None and (protocol != "grouped" or augment is not None):
        raise ValueError("streaming training (--stream) supports the grouped protocol without augmentation")

    def load(split: str):
        if cache is None:
            return load_task_split(data_dir, task_obj, split, protocol)
        return load_task_split_to_disk(data_dir, task_obj, split, cache)

    X, y, train_frame = load("train")
    if len(y) == 0:
        raise UserError(f"{data_dir}: config {task_obj.config!r} has no labelled training rows "
                         f"for task {task}")
    check_training_labels(task_obj, y, f"{data_dir} ({task_obj.config}/train)")
    try:
        X_val, y_val, _ = load("validation")
    except FileNotFoundError:
        X_val, y_val = X[:0], y[:0]
    if len(y_val) == 0:
        log.warning("%s: no validation rows; training for max_epochs without early stopping", data_dir)

    accepted = set(model_class(model_name)().get_params())
    model_params = {k: v for k, v in dataclasses.asdict(config).items() if k in accepted}
    model_params.update(params)
    model_params["random_state"] = int(seed)
    if "progress" in accepted:
        model_params["progress"] = progress
    model = get(model_name, **model_params)
    if init_from is not None:
        base = load_run(init_from)
        if base.config["model"] != model_name or base.label_names != task_obj.label_names:
            raise UserError(f"cannot fine-tune {model_name} on {task} from {init_from}: it holds "
                             f"{base.config['model']} trained on {base.config['task']}")
        if not hasattr(model, "warm_start_from"):
            raise UserError(f"model {model_name} does not support fine-tuning (init_from)")
        model.warm_start_from(base.model)

    n_train, fit_kwargs = len(y), {}
    with deterministic(seed, config.threads):
        if augment is not None:
            from gunshot_bench.augment import training_augmentation

            X, y, fit_kwargs = training_augmentation(model, augment, seed, X, y, train_frame, data_dir)
        model.fit(X, y, X_val if len(y_val) else None, y_val if len(y_val) else None, **fit_kwargs)
        metrics = _validation_metrics(model, X_val, y_val)
        decision = decide(model, X_val, y_val, decision_config) if task_obj.name == "detection" else None
        if (warning := decision_warning(decision)) is not None:
            log.warning("%s seed %d: %s", model_name, seed, warning)
    wall = time.perf_counter() - start
    cx = model.complexity() if hasattr(model, "complexity") else {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model")
    history = _history_dict(getattr(model, "history_", None), model_name)
    write_json(out_dir / "history.json", history)
    plot_history(history, out_dir / "history.png", title=f"{model_name} on {task}, seed {seed}")
    write_json(out_dir / "config.json", {
        "model": model_name, "task": task, "seed": int(seed),
        "train": dataclasses.asdict(config) if "max_epochs" in accepted else None,
        "params": {k: v for k, v in model.get_params().items() if k != "progress"},
        "label_names": list(task_obj.label_names), "dataset": dataset_info(data_dir),
        "data_dir": str(Path(data_dir).resolve()), "package_version": __version__,
        "init_from": None if init_from is None else str(Path(init_from).resolve()),
        "threads": config.threads, "protocol": protocol, "provenance": code_provenance(),
        "validation_metrics": metrics, "wall_time_s": wall,
        # predict's onset threshold for long recordings, chosen on this dataset's validation clips
        "onset_threshold_db": threshold_from_dataset(data_dir),
        "n_train": int(n_train), "n_validation": int(len(y_val)),
        "augment": None if augment is None else augment.as_dict(), "decision": decision,
        # "params" holds the hyperparameters; the complexity figures get their own keys
        "n_params": cx.get("params"), "flops_per_clip": cx.get("flops_per_clip")})
    return RunResult(out_dir, model, metrics, wall, cx.get("params"), cx.get("flops_per_clip"))


def _validation_metrics(model, X_val, y_val) -> dict:
    if len(y_val) == 0:
        return {}
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    pred = model.predict(X_val)
    return {"accuracy": float(accuracy_score(y_val, pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_val, pred)),
            "macro_f1": float(f1_score(y_val, pred, average="macro", zero_division=0)),
            "n": int(len(y_val))}


def _history_dict(history, model_name: str) -> dict:
    if history is None:
        return {}
    return history if isinstance(history, dict) else {model_name: history}


def plot_history(history: dict, path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, train (dashed) and validation (solid), one colour per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, (stage, rows) in enumerate(history.items()):
        color = f"C{i % 10}"
        epochs = [r["epoch"] for r in rows]
        for ax, key in zip(axes, ("loss", "accuracy")):
            ax.plot(epochs, [r[f"train_{key}"] for r in rows], "--", color=color, label=f"{stage} train")
            if rows and f"val_{key}" in rows[0]:
                ax.plot(epochs, [r[f"val_{key}"] for r in rows], "-", color=color, label=f"{stage} val")
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    if not history:
        axes[0].text(0.5, 0.5, "not trained by epochs", ha="center", transform=axes[0].transAxes)
    else:
        axes[1].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)


def load_run(run_dir) -> LoadedRun:
    """Read a run directory back; refuses another package version or mismatched labels."""
    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json", expect=dict)
    check_package_version(config.get("package_version"), run_dir)
    task = get_task(config["task"])
    stored = tuple(config.get("label_names", ()))
    if stored != task.label_names:
        raise UserError(f"{run_dir}: the run's labels ({len(stored)}: {', '.join(stored[:5])}...) do "
                         f"not match task {task.name}'s labels in this version ({task.n_classes}: "
                         f"{', '.join(task.label_names[:5])}...); retrain the model")
    model = load_model(run_dir / "model")
    bad = [int(c) for c in model.classes_ if not 0 <= int(c) < task.n_classes]
    if bad:
        raise UserError(f"{run_dir}: model classes {bad} are outside task {task.name}'s "
                         f"{task.n_classes} labels")
    return LoadedRun(model, task, stored, config, config.get("dataset", {}).get("version"),
                     config["package_version"], run_dir)
