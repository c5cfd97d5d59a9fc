"""Build the versioned dataset folder from raw collections.

Steps: scan every source root (every file becomes a record or a reported skip) -> decode,
validate and cut each record into 2 s segments in worker processes (segment audio streams
to a staging parquet file, the metadata to an on-disk index, `dataset.index`, so the main
process's memory does not grow with the corpus) -> drop byte-identical files ->
join near-duplicate recordings into one group -> grouped split -> write the `clean` and
`background` shards -> variant configs -> card, manifest, report. Everything is written into
a staging folder beside the output and renamed into place at the end, so an interrupted
build leaves the previous dataset or none, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from gunshot_bench import errors
from gunshot_bench.audio import MIN_DURATION_S, PAD_MODES, SEGMENT_DURATION_S, TARGET_SAMPLE_RATE
from gunshot_bench.dataset import card, ownership, report
from gunshot_bench.dataset.report import BuildSummary
from gunshot_bench.dataset.grouping import group_recordings
from gunshot_bench.dataset.index import BuildIndex
from gunshot_bench.dataset.process import FileResult, process_to_store, stored_wavs
from gunshot_bench.dataset.schema import SPLITS, clean_features
from gunshot_bench.dataset.shards import ShardWriter
from gunshot_bench.dataset.split import DEFAULT_RATIOS
from gunshot_bench.dataset.workers import Failed, MemoryUse, peak_rss_mb, run_isolated
from gunshot_bench.sources import SOURCE_KINDS, ClipRecord, get_source
from gunshot_bench.sources.grouping import GroupBy
from gunshot_bench.taxonomy import CATEGORIES, MODELS

log = logging.getLogger(__name__)
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
#: Where the decode stage runs; both give the same output.
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build depends on; saved in the manifest.

    Attributes:
        sources: (kind, path) pairs, e.g. (("sim", "corpus"), ("noise", "musan")).
        out_dir: the dataset folder to write.
        version: the dataset version (X.Y.Z).
        seed: seeds the split and every variant draw.
        variants: variant configs to derive (see gunshot_bench.variants.ALL).
        name: the dataset's name in its card.
        overwrite: replace an output folder that holds a different build.
        workers: decoding processes (default: all cores).
        file_timeout_s: a file still decoding after this long is reported failed and its worker replaced.
        engine: where files are decoded: "local" (a pool of processes) or "ray" (Ray tasks, see
            `dataset.ray_engine`); the output is the same.
        ray_address: the Ray cluster to join with engine "ray" (default: `RAY_ADDRESS`, else a
            local Ray of `workers` CPUs).
    """

    sources: tuple[tuple[str, str], ...]
    out_dir: str
    version: str = "0.1.0"
    seed: int = 0
    variants: tuple[str, ...] = ()
    name: str = "gunshot-bench"
    overwrite: bool = False
    workers: int = 0
    ratios: tuple[float, float, float] = DEFAULT_RATIOS
    sample_rate: int = TARGET_SAMPLE_RATE
    segment_s: float = SEGMENT_DURATION_S
    min_duration_s: float = MIN_DURATION_S
    pad_mode: str = "noise"
    group_by: str = ""
    file_timeout_s: float = 3600.0
    engine: str = "local"
    ray_address: str = ""

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise errors.UserError(f"unknown engine '{self.engine}'; choose one of {', '.join(ENGINES)}")
        if not self.sources:
            raise errors.UserError("no sources: pass at least one --source KIND=PATH")
        for kind, path in self.sources:
            if kind not in SOURCE_KINDS:
                raise errors.UserError(f"unknown source kind '{kind}'; known kinds: {', '.join(SOURCE_KINDS)}")
            if not Path(path).is_dir():
                raise FileNotFoundError(f"source {kind}={path}: no such folder")
        if self.pad_mode not in PAD_MODES:
            raise errors.UserError(f"pad mode must be one of {', '.join(PAD_MODES)}, got '{self.pad_mode}'")
        if not 0 < self.min_duration_s <= self.segment_s:
            raise errors.UserError(f"--min-duration must be in (0, {self.segment_s:g}] s, got {self.min_duration_s:g}")
        if self.group_by:
            GroupBy(self.group_by)  # validates: a regular expression with a named group
        if not _VERSION.match(self.version):
            raise errors.UserError(f"version must look like X.Y.Z, got '{self.version}'")
        if self.variants:
            from gunshot_bench.variants import ALL

            unknown = sorted(set(self.variants) - set(ALL))
            if unknown:
                raise errors.UserError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(ALL)}")

    def parameters(self) -> dict:
        """The inputs of the build that decide its output (not where it goes or how fast)."""
        params = asdict(self)
        for key in ("out_dir", "overwrite", "workers", "file_timeout_s", "engine", "ray_address"):
            params.pop(key)
        params["sources"] = [_source_entry(k, p) for k, p in self.sources]
        return json.loads(json.dumps(params))  # the form it takes in manifest.json (lists, not tuples)


def _source_entry(kind: str, path: str) -> dict:
    """A source as manifest.json records it: its folder's name and a sha256 of its absolute path.

    The digest still tells a rebuild from another folder apart (`check_output`), but the local
    path itself never reaches the manifest, which `publish` uploads. A simulated corpus also
    records its preset and seed from its completion marker, so the leaderboard knows the preset.
    """
    resolved = Path(path).resolve()
    entry = {"kind": kind, "name": resolved.name, "path_sha256": hashlib.sha256(str(resolved).encode()).hexdigest()}
    marker = resolved / ".gunshot_bench_synth.json"
    if kind == "sim" and marker.is_file():
        synth = json.loads(marker.read_text())
        entry["synth"] = {k: synth[k] for k in ("preset", "seed") if k in synth}
    return entry


def check_output(out_dir: Path, config: BuildConfig) -> None:
    """Refuse, before any work, an output folder that holds anything but a previous build.

    Files that no build wrote are never replaced, with or without --overwrite; a previous
    build with other parameters is replaced only with --overwrite.
    """
    ownership.check_replaceable(out_dir)
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    old = ownership.read_manifest(out_dir)
    if old.get("parameters") != config.parameters() and not config.overwrite:
        params = old.get("parameters") if isinstance(old.get("parameters"), dict) else {}
        raise ownership.OutputRefused(
            f"{out_dir} holds a different build (version {old.get('version')}, seed "
            f"{params.get('seed')}, other sources or parameters); "
            "pass --overwrite to replace it or choose another --out")


def _scan(config: BuildConfig, index: BuildIndex, progress: bool) -> list[str]:
    """Scan every source into `index` (records numbered in scan order, and the skipped files);
    returns the rel paths that `--group-by` did not match."""
    group_by = GroupBy(config.group_by) if config.group_by else None
    unmatched: list[str] = []

    def items():
        for kind, path in config.sources:
            for item in tqdm(get_source(kind).scan(Path(path)), desc=f"scan {kind}", unit="file",
                             disable=not progress, leave=False):
                if group_by is not None and isinstance(item, ClipRecord):
                    relabelled = group_by.relabel(item)
                    if relabelled is None:
                        unmatched.append(f"{item.source}/{item.rel_path}")
                    item = relabelled or item
                yield item

    index.add_scanned(items())
    return unmatched


def _process_all(index: BuildIndex, config: BuildConfig, store_dir: Path, progress: bool) -> dict:
    """Process every record of `index` in isolated worker processes; each file's segment audio
    goes to a store file under `store_dir` (see `process.process_to_store`), its metadata
    (segments, hashes, fingerprints) to `index`.

    A worker that dies or runs past the per-file timeout fails only its own file. Records are
    read from the index as workers take them, so neither they nor the results stay in memory.
    Returns the peak memory figures.
    """
    store_dir.mkdir()
    workers = config.workers or os.cpu_count() or 1
    memory = MemoryUse()
    jobs = ((index.record(i), config.sample_rate, config.segment_s, config.min_duration_s, config.pad_mode,
             store_dir / f"{i:07d}.parquet") for i in range(index.records))
    if config.engine == "ray":
        from gunshot_bench.dataset.ray_engine import run_on_ray

        outcomes = run_on_ray(process_to_store, jobs, config.workers, config.file_timeout_s, config.ray_address or None)
        memory.workers = 0  # Ray's workers report no peaks here; the main process's peak is set below
    else:
        outcomes = run_isolated(process_to_store, jobs, workers, config.file_timeout_s, memory)
    for i, outcome in tqdm(outcomes, total=index.records, desc="decode + segment", unit="file", disable=not progress):
        if isinstance(outcome, Failed):
            index.add_result(i, FileResult(index.record(i), reason=outcome.reason), None)
        else:
            index.add_result(i, *outcome)
    memory.parent_peak_mb = max(memory.parent_peak_mb, peak_rss_mb())
    return memory.as_dict()


def _clip_id(record: ClipRecord, index: int) -> str:
    span = "" if record.start_s is None else f"@{record.start_s:g}-{record.end_s:g}"
    return f"{record.source}/{record.rel_path}{span}#{index}"


def _row(result: FileResult, seg, wav: bytes) -> dict:
    r, label = result.record, result.record.label
    clip_id = _clip_id(r, seg.index)
    return {
        "audio": {"bytes": wav, "path": re.sub(r"[^\w.-]+", "_", clip_id) + ".wav"},
        "category": CATEGORIES.index(label.category) if label.category else -1,
        "model": MODELS.index(label.model) if label.model else -1,
        "is_gunshot": int(bool(label.is_gunshot)),  # ClassLabel: 0 non_gunshot, 1 gunshot
        "label_raw": r.raw_label,
        "clip_id": clip_id,
        "source": r.source,
        "rel_path": r.rel_path,
        "recording_id": r.recording_id,
        "segment_index": seg.index,
        "start_s": seg.start_s,
        "orig_sample_rate": result.orig_sample_rate,
        "orig_channels": result.orig_channels,
        "licence": r.licence,
        "segment_sha256": seg.sha256,
        "padded": result.padded,
        "orig_duration_s": result.duration_s,
        "sim_params": str(r.extra.get("sim_params", "")),
    }


def build_dataset(config: BuildConfig, progress: bool = True) -> BuildSummary:
    """Build the dataset described by `config`; see the module docstring for the steps."""
    out_dir = Path(config.out_dir).resolve()
    check_output(out_dir, config)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with ownership.OutputLock(out_dir):
        ownership.clean_stale(out_dir)
        check_output(out_dir, config)  # again, under the lock: the folder may have changed meanwhile
        stage = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
        try:
            summary = _build_into(stage, out_dir, config, progress)
            ownership.write_marker(stage)
            check_output(out_dir, config)  # a file added during the build is refused, not deleted
            _swap_into_place(stage, out_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return summary


def _build_into(stage: Path, out_dir: Path, config: BuildConfig, progress: bool) -> BuildSummary:
    index = BuildIndex(stage / "_index.sqlite")
    try:
        return _build_indexed(stage, out_dir, config, index, progress)
    finally:
        index.close()


def _build_indexed(stage: Path, out_dir: Path, config: BuildConfig, index: BuildIndex,
                   progress: bool) -> BuildSummary:
    unmatched = _scan(config, index, progress)
    store_dir = stage / "_segments"
    memory = _process_all(index, config, store_dir, progress)
    duplicates_of = index.byte_identical()
    grouping = group_recordings(index, duplicates_of)
    fixed_conflicts = index.fixed_splits()
    split = index.assign_splits(config.seed, config.ratios)

    features = clean_features()
    writers = {(c, s): ShardWriter(stage, c, s, features) for c in ("clean", "background") for s in SPLITS}
    # Each file's segment audio sits in its own store file, read a row group at a time, so
    # memory holds a few dozen segments however long the recording.
    for index_no, result in tqdm(index.results(), total=index.records, desc="write shards", unit="file",
                                 disable=not progress):
        if not result.segments or str(result.record.path) in duplicates_of:
            continue
        wavs = stored_wavs(store_dir / f"{index_no:07d}.parquet")
        group = grouping.group_of[result.record.recording_id]
        config_name = "clean" if result.record.label.is_gunshot else "background"
        writer = writers[(config_name, split.assignment[group])]
        for seg, wav in zip(result.segments, wavs, strict=True):
            writer.write(_row(result, seg, wav))
    counts: dict[str, dict[str, int]] = {}
    for (c, s), w in writers.items():
        w.close()
        counts.setdefault(c, {})[s] = w.rows
    shutil.rmtree(store_dir)

    variant_summaries = []
    if config.variants:
        from gunshot_bench.variants import write_variants

        variant_summaries = write_variants(stage, list(config.variants), config.seed, progress=progress,
                                           workers=config.workers or None)
        for v in variant_summaries:
            counts[v.config] = dict(v.counts)

    build_report = report.make_report(index, duplicates_of, grouping, split,
                                      group_by=(config.group_by, unmatched), fixed_conflicts=fixed_conflicts)
    build_report["memory"] = memory
    report.write_json(build_report, stage / "build_report.json")
    manifest = card.make_manifest(stage, config, build_report, counts)
    report.write_json(manifest, stage / "manifest.json")
    (stage / "README.md").write_text(card.render_card(stage, config, manifest, build_report, variant_summaries))
    summary = report.summarise(out_dir, build_report, counts, manifest["fingerprint"])
    summary.memory = memory
    return summary


def _swap_into_place(stage: Path, out_dir: Path) -> None:
    """Replace `out_dir` by `stage` with renames: a crash leaves the old folder (possibly aside) or the new one.

    The old folder loses only the files its marker lists; anything else found in it is left
    in the `.old-` folder and named in a warning.
    """
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        out_dir.rename(old)
    stage.rename(out_dir)
    if old.exists():
        left = ownership.remove_owned(old)
        if left:
            log.warning("%s was left in place: it holds files no build wrote (%s)", old, ", ".join(left[:10]))
