"""Train and score every leaderboard entry of `baselines/`: one result JSON per (entry, task, config).

Resuming: a training run is complete when its `config.json` exists (train_run writes it
last) and a result when its JSON exists (written atomically), so a rerun after an
interruption trains only the missing seeds and writes only the missing results. `overwrite`
redoes both.

Layout under `out_dir`:

    results/<dataset key>/<entry>__<task>__<config>[__segment].json        committed
    results/<dataset key>/reference__<name>__<task>__<config>[__segment].json
    runs/<dataset key>/<entry>/<task>[__segment]/seed<k>/                  checkpoints (not committed)
    LEADERBOARD.md, index.html, plots/                                     rendered from results/

Every entry is trained and scored under both split protocols (`grouped`, the leak-free
default, and `segment`, study A's random split of segments; see `dataset.split`), and every
task gets the reference rows of `gunshot_bench.references` under both protocols too.
"""

from __future__ import annotations

import difflib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from gunshot_bench.dataset.split import PROTOCOLS, check_protocol
from gunshot_bench.evaluate import DataCache, predict_clips, score_predictions
from gunshot_bench.leaderboard.render import Rendered, render_leaderboard
from gunshot_bench.leaderboard.tables import dataset_key, table_task
from gunshot_bench.leaderboard.training import TrainJob, is_complete, train_all
from gunshot_bench.metrics import BootstrapSettings, SeedPrediction
from gunshot_bench.references import REFERENCES, reference_predictions
from gunshot_bench.repro import code_provenance, deterministic
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
        if models in (None, "all") and _spec(n).get("opt_in", False):
            continue  # run only when named (e.g. fine-tuning a pretrained encoder: too slow for every run)
        has_profile = profile is not None and profile in _profiles(n)
        entry = load_baseline(n, profile if has_profile else None)
        reason = unavailable_reason(entry)
        if reason is not None:
            log.warning("leaderboard entry %s skipped: %s", n, reason)
            continue
        entries.append(entry)
    return entries


def unavailable_reason(entry: dict) -> str | None:
    """Why an entry cannot run here (e.g. an optional extra not installed), or None."""
    from gunshot_bench.models import model_class

    check = getattr(model_class(entry["model"]), "unavailable_reason", None)
    return check(entry["overrides"]) if check is not None else None


def _spec(name: str) -> dict:
    import tomllib

    from gunshot_bench.train import BASELINES_DIR

    return tomllib.loads((BASELINES_DIR / f"{name}.toml").read_text())


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


def data_origin(data_dir: Path | str) -> str:
    """"simulated" when every source of the build is the simulated corpus, "real" when none
    is, "mixed" otherwise ("unknown" without a manifest listing its sources)."""
    manifest_path = Path(data_dir) / "manifest.json"
    if not manifest_path.is_file():
        return "unknown"
    sources = (json.loads(manifest_path.read_text()).get("parameters") or {}).get("sources") or []
    kinds = {s["kind"] if isinstance(s, dict) else s[0] for s in sources}
    if not kinds:
        return "unknown"
    return "simulated" if kinds == {"sim"} else "mixed" if "sim" in kinds else "real"


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
               progress: bool = True, protocol: str = "grouped") -> SeedRun:
    """Load the run in `run_dir` if it is complete and was trained on this dataset; else train it."""
    from gunshot_bench.train import load_run, train_run

    run_dir = Path(run_dir)
    if overwrite or not is_complete(run_dir, fingerprint):
        params = {**entry["overrides"], **(overrides or {})}
        train_run(data_dir, entry["model"], task, seed, run_dir, overrides=params, init_from=init_from,
                  progress=progress, protocol=protocol)
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
        # the run's own thread count: another count rounds the network's sums differently
        with deterministic(sr.seed, int(sr.run.config.get("threads") or 1)):
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
    protocols=PROTOCOLS,
    segment_seeds=None,
    tasks=None,
    references: bool = True,
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
        protocols: split protocols to run ("grouped", "segment"; both by default).
        segment_seeds: seeds of the `segment` protocol (default: `seeds`); fewer keeps a
            time budget (the `small` main job uses 1).
        tasks: only these tasks of each entry (default: all of them).
        references: also score the reference rows (`gunshot_bench.references`) on every task.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    entries = resolve_entries(models, profile)
    seeds = seed_list(seeds)
    protocols = [check_protocol(p) for p in protocols]
    seeds_of = {p: seeds if p == "grouped" or segment_seeds is None else seed_list(segment_seeds) for p in protocols}
    prov = dataset_provenance(data_dir, preset)
    origin = data_origin(data_dir)
    code = code_provenance()  # once: the code that trains and scores this run
    key = dataset_key({"dataset": {**prov, "config": "clean"}})
    results_dir = out_dir / "results" / key
    runs_root = Path(runs_dir) if runs_dir is not None else out_dir / "runs" / key
    cache = DataCache(data_dir)
    outcome = LeaderboardRun()
    todo = []
    for entry in entries:
        for task_name in entry["tasks"]:
            if tasks is not None and task_name not in tasks:
                continue
            for protocol in protocols:
                path = results_dir / result_filename(entry["name"], task_name, get_task(task_name).config,
                                                     protocol=protocol)
                if _exists(path, overwrite):
                    outcome.skipped.append(path)
                    continue
                todo.append((entry, task_name, protocol, path))

    def run_dir(entry, task_name, protocol, seed):
        return runs_root / entry["name"] / (task_name if protocol == "grouped" else f"{task_name}__{protocol}") / f"seed{seed}"

    train_jobs = [TrainJob(str(data_dir), entry, task_name, seed, str(run_dir(entry, task_name, protocol, seed)),
                           train_overrides, protocol)
                  for entry, task_name, protocol, _ in todo for seed in seeds_of[protocol]
                  if overwrite or not is_complete(run_dir(entry, task_name, protocol, seed), prov["fingerprint"])]
    failures = train_all(train_jobs, workers, progress)
    common = dict(dataset=prov, data_origin=origin, provenance=code, bootstrap=bootstrap)
    for entry, task_name, protocol, path in tqdm(todo, desc="scoring", unit="result", disable=not progress or not todo):
        task = get_task(task_name)
        labels = {s: TrainJob("", entry, task_name, s, "", None, protocol).label for s in seeds_of[protocol]}
        failed = [f"seed{s}: {failures[labels[s]]}" for s in seeds_of[protocol] if labels[s] in failures]
        if failed:
            outcome.failed.append(f"{labels[seeds_of[protocol][0]].rsplit('/', 1)[0]}: {failed[0]}")
            continue
        t0 = time.perf_counter()
        try:
            runs = [ensure_run(data_dir, entry, task_name, s, run_dir(entry, task_name, protocol, s),
                               fingerprint=prov["fingerprint"], overrides=train_overrides, progress=False,
                               protocol=protocol)
                    for s in seeds_of[protocol]]
            test = cache.test_set(task, protocol=protocol)
            evaluation, info = score_runs(runs, test, task_name, fingerprint=prov["fingerprint"], bootstrap=bootstrap)
        except Exception as exc:  # one entry that cannot be scored here must not stop the others
            outcome.failed.append(f"{entry['name']}/{task_name}{'' if protocol == 'grouped' else '/' + protocol}: "
                                  f"{type(exc).__name__}: {exc}")
            log.error("%s", outcome.failed[-1])
            continue
        train_wall = sum(r.train_time_s or 0.0 for r in runs)
        result = _result("leaderboard", task, protocol, evaluation, common, model=model_block(entry, runs, profile),
                         seed_info=info, params=runs[0].params, wall_time_s=train_wall + time.perf_counter() - t0)
        outcome.written.append(write_result(path, result))
    if references:
        ref_tasks = sorted({table_task(t) for e in entries for t in e["tasks"] if tasks is None or t in tasks})
        for task_name in ref_tasks:
            for protocol in protocols:
                score_references(cache, task_name, protocol, seeds_of[protocol], results_dir, common, overwrite,
                                 outcome)
    if render:
        outcome.rendered = render_leaderboard(out_dir / "results", out_dir)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome


def _exists(path: Path, overwrite: bool) -> bool:
    """Whether a valid result is already at `path` (and is to be kept)."""
    if overwrite or not path.is_file():
        return False
    try:
        read_result(path)
        return True
    except ValueError as exc:
        log.warning("rescoring: %s", exc)
        return False


def _result(kind: str, task, protocol: str, evaluation: dict, common: dict, **kwargs) -> dict:
    return build_result(kind=kind, task=task.name, eval_config=task.config,
                        dataset={**common["dataset"], "config": task.config}, label_names=task.label_names,
                        evaluation=evaluation, bootstrap=common["bootstrap"], protocol=protocol,
                        data_origin=common["data_origin"], provenance=common["provenance"], **kwargs)


def score_references(cache: DataCache, task_name: str, protocol: str, seeds: list[int], results_dir: Path,
                     common: dict, overwrite: bool, outcome: LeaderboardRun) -> None:
    """Score every registered reference on one task and protocol, on the entries' test set and
    with the entries' bootstrap resamples (so that differences from it are paired)."""
    task = get_task(task_name)
    try:
        _, train_frame = cache.protocol_arrays(task.config, "train", protocol)
        mask, y_train = task.select(train_frame)
        train_df = train_frame[mask].reset_index(drop=True)
        test = cache.test_set(task, protocol=protocol)
    except (FileNotFoundError, ValueError) as exc:
        outcome.failed.append(f"references/{task_name}/{protocol}: {exc}")
        return
    for name, ref in REFERENCES.items():
        if not ref.applies(task_name, train_df):
            continue
        path = results_dir / result_filename(name, task_name, task.config, kind="reference", protocol=protocol)
        if _exists(path, overwrite):
            outcome.skipped.append(path)
            continue
        t0 = time.perf_counter()
        preds = []
        for seed in seeds:
            y_pred, proba = reference_predictions(name, train_df, y_train, test.frame, task.n_classes, seed)
            preds.append(SeedPrediction(seed, y_pred, proba[:, 1] if task_name == "detection" else None))
        evaluation = score_predictions(task, test.y, preds, rng_keys=(common["dataset"]["fingerprint"], test.name),
                                       bootstrap=common["bootstrap"])
        model = {"name": name, "entry": name, "config": {"reference": True, "description": ref.description}}
        result = _result("reference", task, protocol, evaluation, common, model=model, params=None,
                         wall_time_s=time.perf_counter() - t0)
        outcome.written.append(write_result(path, result))
