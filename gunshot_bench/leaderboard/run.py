"""Train and score every leaderboard entry of `baselines/`: one result JSON per (entry, task, config).

Resuming: a training run is complete when its `config.json` exists (train_run writes it
last) and a result when its JSON exists (written atomically), so a rerun after an
interruption trains only the missing seeds and writes only the missing results. `overwrite`
redoes both.

Layout under `out_dir`:

    results/<dataset key>/<entry>__<task>__<config>.json   committed
    runs/<dataset key>/<entry>/<task>/seed<k>/             checkpoints (not committed)
    LEADERBOARD.md, index.html, plots/                     rendered from results/
"""

from __future__ import annotations

import difflib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from gunshot_bench.evaluate import DataCache, predict_clips, score_predictions
from gunshot_bench.leaderboard.render import Rendered, render_leaderboard
from gunshot_bench.leaderboard.tables import dataset_key
from gunshot_bench.leaderboard.training import TrainJob, is_complete, train_all
from gunshot_bench.metrics import BootstrapSettings, SeedPrediction
from gunshot_bench.results import build_result, read_result, result_filename, write_result
from gunshot_bench.tasks import get_task

log = logging.getLogger(__name__)


@dataclass
class LeaderboardRun:
    """What `run_leaderboard` did."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    rendered: Rendered | None = None
    wall_time_s: float = 0.0


@dataclass(frozen=True)
class SeedRun:
    """One trained seed: the loaded run plus what the result file records about it."""

    seed: int
    run: object  # train.LoadedRun
    train_time_s: float | None
    epochs: int | None
    history: dict | None
    params: int | None
    flops_per_clip: int | None


# ------------------------------------------------------------------------------ entries


def baseline_names() -> list[str]:
    """Names of every entry in `baselines/`."""
    from gunshot_bench.plugins import baseline_dirs
    from gunshot_bench.train import BASELINES_DIR

    return sorted({p.stem for d in (BASELINES_DIR, *baseline_dirs()) for p in d.glob("*.toml")})


def resolve_entries(models="all", profile: str | None = None) -> list[dict]:
    """The baseline entries to run: "all", a comma-separated string or a list of names.

    Raises:
        ValueError: an unknown name, with the close matches and the available names.
    """
    from gunshot_bench.train import load_baseline

    known = baseline_names()
    if models in (None, "all"):
        names = known
    else:
        names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models) if m.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = []
        for n in unknown:
            close = difflib.get_close_matches(n, known, n=3, cutoff=0.4)
            hints.append(f"'{n}'" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise ValueError(f"unknown leaderboard entr{'y' if len(unknown) == 1 else 'ies'} {', '.join(hints)}; "
                         f"available: {', '.join(known)}")
    entries = []
    for n in names:
        has_profile = profile is not None and profile in _profiles(n)
        entries.append(load_baseline(n, profile if has_profile else None))
    return entries


def _profiles(name: str) -> set[str]:
    import tomllib

    from gunshot_bench.train import baseline_path

    return set(tomllib.loads(baseline_path(name).read_text()).get("profiles", {}))


def seed_list(seeds) -> list[int]:
    """`3` -> [0, 1, 2]; a list is kept as it is."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}")
        return list(range(seeds))
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    return out


def dataset_provenance(data_dir: Path | str, preset: str | None = None) -> dict:
    """Name, version, fingerprint (from the manifest) and the simulator preset, if any."""
    manifest_path = Path(data_dir) / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{data_dir}: no manifest.json; is this a dataset built by `gunshot-bench build`?")
    manifest = json.loads(manifest_path.read_text())
    if preset is None:  # a dataset built from one simulated corpus knows its preset
        for source in (manifest.get("parameters") or {}).get("sources", []):
            if isinstance(source, dict) and "synth" in source:  # manifests keep no local paths
                preset = source["synth"].get("preset")
                continue
            kind, path = (source["kind"], source["path"]) if isinstance(source, dict) else source
            marker = Path(path) / ".gunshot_bench_synth.json"
            if kind == "sim" and marker.is_file():
                preset = json.loads(marker.read_text()).get("preset")
    return {"name": manifest["name"], "version": manifest["version"], "fingerprint": manifest["fingerprint"],
            "preset": preset}


# --------------------------------------------------------------------------------- runs


def _history(run_dir: Path) -> tuple[dict | None, int | None]:
    """history.json ({stage: [{epoch, train_loss, ...}]}) flattened to {"stage/metric": [..]}."""
    path = run_dir / "history.json"
    if not path.is_file():
        return None, None
    raw = json.loads(path.read_text()) or {}
    flat, epochs = {}, None
    for stage, rows in raw.items():
        if not isinstance(rows, list) or not rows:
            continue
        epochs = max(epochs or 0, len(rows))
        for key in rows[0]:
            if key != "epoch":
                flat[f"{stage}/{key}"] = [r.get(key) for r in rows]
    return (flat or None), epochs


def ensure_run(data_dir, entry: dict, task: str, seed: int, run_dir: Path, *, fingerprint: str,
               overrides: dict | None = None, init_from: Path | None = None, overwrite: bool = False,
               progress: bool = True) -> SeedRun:
    """Load the run in `run_dir` if it is complete and was trained on this dataset; else train it."""
    from gunshot_bench.train import load_run, train_run

    run_dir = Path(run_dir)
    if overwrite or not is_complete(run_dir, fingerprint):
        params = {**entry["overrides"], **(overrides or {})}
        train_run(data_dir, entry["model"], task, seed, run_dir, overrides=params, init_from=init_from,
                  progress=progress)
    run = load_run(run_dir)
    cx = run.model.complexity() if hasattr(run.model, "complexity") else {}
    history, epochs = _history(run_dir)
    return SeedRun(seed, run, run.config.get("wall_time_s"), epochs, history, cx.get("params"),
                   cx.get("flops_per_clip"))


def score_runs(runs: list[SeedRun], test, task_name: str, *, fingerprint: str, bootstrap: BootstrapSettings):
    """Predict `test` with every seed and score them together; returns (evaluation, seed_info)."""
    task = get_task(task_name)
    preds, info = [], []
    for sr in runs:
        y_pred, score, ms = predict_clips(sr.run.model, test.X, task)
        preds.append(SeedPrediction(sr.seed, y_pred, score))
        info.append({"train_time_s": sr.train_time_s, "inference_time_per_clip_ms": ms, "epochs": sr.epochs,
                     "history": sr.history})
    evaluation = score_predictions(task, test.y, preds, rng_keys=(fingerprint, test.name), bootstrap=bootstrap)
    return evaluation, info


def model_block(entry: dict, runs: list[SeedRun], profile: str | None, init_from: str | None = None) -> dict:
    block = {"name": entry["model"], "entry": entry["name"],
             "config": {"overrides": entry["overrides"], "profile": profile, "description": entry["description"]},
             "flops_per_clip": runs[0].flops_per_clip}
    if init_from:
        block["init_from"] = init_from
    return block


# ---------------------------------------------------------------------------- top level


def run_leaderboard(
    data_dir: Path | str,
    models="all",
    seeds=3,
    out_dir: Path | str = "leaderboard",
    overwrite: bool = False,
    *,
    profile: str | None = None,
    preset: str | None = None,
    runs_dir: Path | str | None = None,
    train_overrides: dict | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: bool = True,
    render: bool = True,
    workers: int | None = None,
) -> LeaderboardRun:
    """Train and score each entry of `baselines/` on each of its tasks, then render the leaderboard.

    Args:
        data_dir: a dataset built with `gunshot-bench build` (the `detection` config is needed
            for detection entries).
        models: "all", or entry names (list or comma-separated).
        seeds: number of seeds (0..N-1) or a list of seeds.
        out_dir: the leaderboard folder (results/, runs/, LEADERBOARD.md, index.html, plots/).
        overwrite: retrain and rescore even where runs and results exist.
        profile: baseline profile laid over each entry's settings (e.g. "small").
        preset: the simulator preset the data came from (found from the manifest when omitted).
        runs_dir: where checkpoints go (default `out_dir/runs`).
        train_overrides: extra settings for every entry (e.g. {"max_epochs": 1} in tests).
        workers: training processes (default: 2 on a machine with 2 or more cores).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    entries = resolve_entries(models, profile)
    seeds = seed_list(seeds)
    prov = dataset_provenance(data_dir, preset)
    key = dataset_key({"dataset": {**prov, "config": "clean"}})
    results_dir = out_dir / "results" / key
    runs_root = Path(runs_dir) if runs_dir is not None else out_dir / "runs" / key
    cache = DataCache(data_dir)
    outcome = LeaderboardRun()
    todo = []
    for entry in entries:
        for task_name in entry["tasks"]:
            path = results_dir / result_filename(entry["name"], task_name, get_task(task_name).config)
            if path.is_file() and not overwrite:
                try:
                    read_result(path)
                    outcome.skipped.append(path)
                    continue
                except ValueError as exc:
                    log.warning("rescoring: %s", exc)
            todo.append((entry, task_name, path))

    def run_dir(entry, task_name, seed):
        return runs_root / entry["name"] / task_name / f"seed{seed}"

    train_jobs = [TrainJob(str(data_dir), entry, task_name, seed, str(run_dir(entry, task_name, seed)), train_overrides)
                  for entry, task_name, _ in todo for seed in seeds
                  if overwrite or not is_complete(run_dir(entry, task_name, seed), prov["fingerprint"])]
    failures = train_all(train_jobs, workers, progress)
    for entry, task_name, path in tqdm(todo, desc="scoring", unit="result", disable=not progress or not todo):
        task = get_task(task_name)
        labels = {s: f"{entry['name']}/{task_name}/seed{s}" for s in seeds}
        failed = [f"seed{s}: {failures[labels[s]]}" for s in seeds if labels[s] in failures]
        if failed:
            outcome.failed.append(f"{entry['name']}/{task_name}: {failed[0]}")
            continue
        t0 = time.perf_counter()
        try:
            runs = [ensure_run(data_dir, entry, task_name, s, run_dir(entry, task_name, s),
                               fingerprint=prov["fingerprint"], overrides=train_overrides, progress=False)
                    for s in seeds]
            test = cache.test_set(task)
            evaluation, info = score_runs(runs, test, task_name, fingerprint=prov["fingerprint"], bootstrap=bootstrap)
        except Exception as exc:  # one entry that cannot be scored here must not stop the others
            outcome.failed.append(f"{entry['name']}/{task_name}: {type(exc).__name__}: {exc}")
            log.error("%s", outcome.failed[-1])
            continue
        train_wall = sum(r.train_time_s or 0.0 for r in runs)
        result = build_result(
            kind="leaderboard", task=task_name, eval_config=task.config,
            dataset={**prov, "config": task.config}, model=model_block(entry, runs, profile),
            label_names=task.label_names, evaluation=evaluation, bootstrap=bootstrap, seed_info=info,
            params=runs[0].params, wall_time_s=train_wall + time.perf_counter() - t0)
        outcome.written.append(write_result(path, result))
    if render:
        outcome.rendered = render_leaderboard(out_dir / "results", out_dir)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome
