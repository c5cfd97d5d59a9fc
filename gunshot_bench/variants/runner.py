"""Stream the base configs through the variants and write the variant shards, in parallel.

The work is cut into tasks of consecutive parquet row groups (about `TASK_ROWS` input
segments) of one input shard for one variant; each task writes its own shard, and the shards of a (config, split) are
then renamed `<split>-NNNNN-of-NNNNN.parquet` in task order. The output depends only on the
inputs, the seed and the variant parameters, never on the number of worker processes or the
order in which tasks finish. Memory stays flat: a task holds one input row group at a time
and the noise pool is a shared memory map.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from tqdm.auto import tqdm

from gunshot_bench.audio import decode_wav
from gunshot_bench.dataset.schema import SPLITS
from gunshot_bench.dataset.shards import ShardWriter, config_dir, shard_paths
from gunshot_bench.errors import UserError
from gunshot_bench.variants.base import Context, Variant, VariantStats, VariantSummary
from gunshot_bench.variants.noise_pool import NoisePool, build_pool

WORK_DIR_NAME = "_variants_work"
#: Below this many input segments, worker start-up (a few seconds) costs more than it saves.
PARALLEL_MIN_ROWS = 3000
#: Input segments per task (whole row groups): one output shard per task, e.g. 256 x 9 energy
#: rows, about 400 MB.
TASK_ROWS = 256


@dataclass(frozen=True)
class Task:
    variant: str
    split: str
    input_config: str
    shard: Path
    row_groups: tuple[int, ...]
    n_rows: int
    part: int


@dataclass
class TaskResult:
    task: Task
    paths: list[Path]
    rows: int
    skipped: Counter
    rows_per_level: Counter
    clipped_per_level: Counter


def plan(stage_dir: Path, variants: Sequence[Variant]) -> list[Task]:
    """Every (variant, split, run of input row groups), numbered in output order per (variant, split)."""
    tasks = []
    for variant in variants:
        for split in SPLITS:
            part = 0
            for input_config in variant.inputs:
                for shard in shard_paths(stage_dir, input_config, split):
                    meta = pq.ParquetFile(shard).metadata
                    groups: list[int] = []
                    n = 0
                    for group in range(meta.num_row_groups):
                        groups.append(group)
                        n += meta.row_group(group).num_rows
                        if n >= TASK_ROWS or group == meta.num_row_groups - 1:
                            if n:
                                tasks.append(Task(variant.name, split, input_config, shard, tuple(groups), n, part))
                                part += 1
                            groups, n = [], 0
    return tasks


def run_task(task: Task, variant: Variant, pool: NoisePool | None, seed: int, work_dir: Path) -> TaskResult:
    """Derive the rows of one input row group and write them to one shard under `work_dir`."""
    ctx = Context(seed=seed, split=task.split, input_config=task.input_config, pool=pool)
    part_dir = work_dir / f"{task.variant}-{task.split}-{task.part:05d}"
    writer = ShardWriter(part_dir, task.variant, task.split, variant.features(), rows_per_shard=10**9)
    per_level, clipped = Counter(), Counter()
    source = pq.ParquetFile(task.shard)
    for group in task.row_groups:
        for row in source.read_row_group(group).to_pylist():
            x, _ = decode_wav(row["audio"]["bytes"])
            for out in variant.derive(row, x, ctx):
                writer.write(out)
                level = variant.level_of(out)
                per_level[level] += 1
                clipped[level] += bool(out["clipped"])
    paths = writer.close() if writer.rows else []
    return TaskResult(task, paths, writer.rows, ctx.skipped, per_level, clipped)


def _run_task_args(args) -> TaskResult:
    return run_task(*args)


def _cost(task: Task) -> float:
    """Rough relative cost, to start the longest tasks first (output rows per input row)."""
    return task.n_rows * {"crowd_noise": 5.0, "energy": 9.0, "detection": 2.0}.get(task.variant, 5.0)


def write_all(stage_dir: Path, variants: Sequence[Variant], seed: int, progress: bool = True,
              workers: int | None = None) -> list[VariantSummary]:
    """Write every variant's shards under `stage_dir/data/<name>/` and summarise them."""
    stage_dir = Path(stage_dir)
    work_dir = stage_dir / WORK_DIR_NAME
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir()
    try:
        by_name = {v.name: v for v in variants}
        pools = _build_pools(stage_dir, variants, work_dir)
        tasks = plan(stage_dir, variants)
        jobs = [(t, by_name[t.variant], pools.get(t.variant, {}).get(t.split), seed, work_dir) for t in tasks]
        jobs.sort(key=lambda job: -_cost(job[0]))
        total_rows = sum(t.n_rows for t in tasks)
        if workers is None:
            workers = min(2, os.cpu_count() or 1) if total_rows >= PARALLEL_MIN_ROWS else 1
        results = []
        with tqdm(total=total_rows, desc="variants " + ",".join(by_name), unit="segment", disable=not progress) as bar:
            if workers <= 1:
                for job in jobs:
                    results.append(run_task(*job))
                    bar.update(job[0].n_rows)
            else:
                context = multiprocessing.get_context("spawn")  # no fork after arrow's threads started
                with ProcessPoolExecutor(workers, mp_context=context) as executor:
                    for result in executor.map(_run_task_args, jobs):
                        results.append(result)
                        bar.update(result.task.n_rows)
        summaries = []
        for variant in variants:
            mine = sorted((r for r in results if r.task.variant == variant.name), key=lambda r: r.task.part)
            stats = VariantStats()
            for split in SPLITS:
                parts = [r for r in mine if r.task.split == split]
                stats.counts[split] = sum(r.rows for r in parts)
                _place(stage_dir, variant, split, [p for r in parts for p in r.paths])
            for r in mine:
                stats.skipped.update(r.skipped)
                stats.rows_per_level.update(r.rows_per_level)
                stats.clipped_per_level.update(r.clipped_per_level)
            parameters = variant.parameters()
            (config_dir(stage_dir, variant.name) / "variant.json").write_text(
                json.dumps({"config": variant.name, "seed": seed, "parameters": parameters}, indent=1))
            summaries.append(VariantSummary(
                config=variant.name, features=variant.features(), counts=stats.counts,
                card_section=variant.card_section(stats, pools.get(variant.name, {})),
                skipped=dict(stats.skipped), parameters=parameters,
                clipped={level: stats.clipped_per_level[level] for level in stats.rows_per_level}))
        return summaries
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _build_pools(stage_dir: Path, variants: Sequence[Variant], work_dir: Path) -> dict[str, dict[str, NoisePool]]:
    """{variant name: {split: pool}} for the variants that mix noise; one pool per noise choice."""
    built: dict[tuple, dict[str, NoisePool]] = {}
    pools = {}
    for variant in variants:
        if not variant.needs_noise:
            continue
        mixer = getattr(variant, "mixing", variant)  # detection mixes as its CrowdNoiseConfig says
        key = (tuple(mixer.noise_kinds), mixer.all_user_noise)
        if key not in built:
            folder = work_dir / f"pool-{len(built)}"
            built[key] = {s: build_pool(stage_dir, s, folder, mixer.noise_kinds, mixer.all_user_noise) for s in SPLITS}
        pools[variant.name] = built[key]
    return pools


def _place(stage_dir: Path, variant: Variant, split: str, paths: list[Path]) -> None:
    """Move the task shards of one (config, split) into place, numbered in task order.

    A split without rows gets no shard, as in the base configs (the card lists only splits with rows).
    """
    target = config_dir(stage_dir, variant.name)
    target.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        path.rename(target / f"{split}-{i:05d}-of-{len(paths):05d}.parquet")


def resolve(names: Sequence[str], configs: Mapping[str, Variant] | None, registry: Mapping[str, type]) -> list[Variant]:
    """The variant objects for `names`: from `configs` when given, else default parameters."""
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise UserError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(registry)}")
    configs = dict(configs or {})
    out = []
    for name in dict.fromkeys(names):
        variant = configs.get(name) or registry[name]()
        if variant.name != name:
            raise ValueError(f"config for '{name}' is a {type(variant).__name__} (writes '{variant.name}')")
        out.append(variant)
    return out
