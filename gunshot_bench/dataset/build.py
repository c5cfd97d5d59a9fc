"""Build the versioned dataset folder from raw collections.

Steps: scan every source root (every file becomes a record or a reported skip) -> decode,
validate and cut each record into 2 s segments in worker processes (segment audio streams
to a staging parquet file, only metadata stays in memory) -> drop byte-identical files ->
join near-duplicate recordings into one group -> grouped split -> write the `clean` and
`background` shards -> variant configs -> card, manifest, report. Everything is written into
a staging folder beside the output and renamed into place at the end, so an interrupted
build leaves the previous dataset or none, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from gunshot_bench.audio import MIN_DURATION_S, PAD_MODES, SEGMENT_DURATION_S, TARGET_SAMPLE_RATE
from gunshot_bench.dataset import card, report
from gunshot_bench.dataset.report import BuildSummary
from gunshot_bench.dataset.grouping import fixed_splits, group_recordings
from gunshot_bench.dataset.process import FileResult, process_record
from gunshot_bench.dataset.schema import SPLITS, clean_features
from gunshot_bench.dataset.shards import ShardWriter, file_sha256
from gunshot_bench.dataset.split import DEFAULT_RATIOS, assign_splits
from gunshot_bench.sources import SOURCE_KINDS, ClipRecord, SkippedFile, get_source
from gunshot_bench.sources.grouping import GroupBy
from gunshot_bench.taxonomy import CATEGORIES, MODELS

log = logging.getLogger(__name__)
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_POOL_SCHEMA = pa.schema([("wav", pa.binary())])


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

    def __post_init__(self):
        if not self.sources:
            raise ValueError("no sources: pass at least one --source KIND=PATH")
        for kind, path in self.sources:
            if kind not in SOURCE_KINDS:
                raise ValueError(f"unknown source kind '{kind}'; known kinds: {', '.join(SOURCE_KINDS)}")
            if not Path(path).is_dir():
                raise FileNotFoundError(f"source {kind}={path}: no such folder")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad mode must be one of {', '.join(PAD_MODES)}, got '{self.pad_mode}'")
        if not 0 < self.min_duration_s <= self.segment_s:
            raise ValueError(f"--min-duration must be in (0, {self.segment_s:g}] s, got {self.min_duration_s:g}")
        if self.group_by:
            GroupBy(self.group_by)  # validates: a regular expression with a named group
        if not _VERSION.match(self.version):
            raise ValueError(f"version must look like X.Y.Z, got '{self.version}'")
        if self.variants:
            from gunshot_bench.variants import ALL

            unknown = sorted(set(self.variants) - set(ALL))
            if unknown:
                raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(ALL)}")

    def parameters(self) -> dict:
        """The inputs of the build that decide its output (not where it goes or how fast)."""
        params = asdict(self)
        for key in ("out_dir", "overwrite", "workers"):
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
    """Refuse, before any work, an output folder that holds something other than this build."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if not any(out_dir.iterdir()):
        return
    manifest_path = out_dir / "manifest.json"
    if not manifest_path.is_file():
        raise FileExistsError(f"{out_dir} holds other files and is not a gunshot-bench dataset; choose another --out")
    old = json.loads(manifest_path.read_text())
    if old.get("parameters") != config.parameters() and not config.overwrite:
        raise FileExistsError(
            f"{out_dir} holds a different build (version {old.get('version')}, seed "
            f"{old.get('parameters', {}).get('seed')}, other sources or parameters); "
            "pass --overwrite to replace it or choose another --out")


def _scan(config: BuildConfig, progress: bool) -> tuple[list[ClipRecord], list[SkippedFile]]:
    records, skipped = [], []
    for kind, path in config.sources:
        loader = get_source(kind)
        for item in tqdm(loader.scan(Path(path)), desc=f"scan {kind}", unit="file", disable=not progress, leave=False):
            (records if isinstance(item, ClipRecord) else skipped).append(item)
    return records, skipped


def _process_all(records: list[ClipRecord], config: BuildConfig, pool_path: Path,
                 progress: bool) -> tuple[list[FileResult], dict[str, str]]:
    """Process every record in worker processes; segment audio goes to `pool_path` in order.

    Returns the results (segments without their audio bytes) and each file's sha256.
    """
    workers = config.workers or os.cpu_count() or 1
    results: list[FileResult] = []
    hashes: dict[str, str] = {}
    ctx = multiprocessing.get_context("fork")
    with pq.ParquetWriter(pool_path, _POOL_SCHEMA) as writer, ctx.Pool(workers) as pool:
        jobs = pool.imap(_work, [(r, config.sample_rate, config.segment_s, config.min_duration_s, config.pad_mode)
                                 for r in records], chunksize=4)
        for result, digest in tqdm(jobs, total=len(records), desc="decode + segment", unit="file", disable=not progress):
            if result.segments:
                writer.write_table(pa.table({"wav": [s.wav for s in result.segments]}, schema=_POOL_SCHEMA))
                for s in result.segments:
                    s.wav = b""
            hashes[str(result.record.path)] = digest
            results.append(result)
    return results, hashes


def _work(args) -> tuple[FileResult, str]:
    record, sample_rate, segment_s, min_duration_s, pad_mode = args
    try:
        digest = file_sha256(record.path)
    except OSError:
        digest = ""
    return process_record(record, sample_rate, segment_s, min_duration_s, pad_mode), digest


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
    }


def build_dataset(config: BuildConfig, progress: bool = True) -> BuildSummary:
    """Build the dataset described by `config`; see the module docstring for the steps."""
    out_dir = Path(config.out_dir).resolve()
    check_output(out_dir, config)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        summary = _build_into(stage, out_dir, config, progress)
        _swap_into_place(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return summary


def _build_into(stage: Path, out_dir: Path, config: BuildConfig, progress: bool) -> BuildSummary:
    records, skipped = _scan(config, progress)
    records, unmatched = GroupBy(config.group_by).apply(records) if config.group_by else (records, [])
    pool_path = stage / "_pool.parquet"
    results, hashes = _process_all(records, config, pool_path, progress)
    duplicates_of = report.byte_identical_files(results, hashes)
    grouping = group_recordings(results, duplicates_of)
    fixed, fixed_conflicts = fixed_splits(results, grouping)
    split = assign_splits(grouping.strata, config.seed, config.ratios, fixed)

    features = clean_features()
    writers = {(c, s): ShardWriter(stage, c, s, features) for c in ("clean", "background") for s in SPLITS}
    # The pool holds one row group per file with segments, in the order of `results`; reading
    # it a row group at a time keeps memory to one file's audio.
    pool = pq.ParquetFile(pool_path, pre_buffer=False)
    row_group = 0
    for result in tqdm(results, desc="write shards", unit="file", disable=not progress):
        if not result.segments:
            continue
        wavs = pool.read_row_group(row_group).column("wav").to_pylist()
        row_group += 1
        if str(result.record.path) in duplicates_of:
            continue
        group = grouping.group_of[result.record.recording_id]
        config_name = "clean" if result.record.label.is_gunshot else "background"
        for seg, wav in zip(result.segments, wavs, strict=True):
            writers[(config_name, split.assignment[group])].write(_row(result, seg, wav))
    counts: dict[str, dict[str, int]] = {}
    for (c, s), w in writers.items():
        w.close()
        counts.setdefault(c, {})[s] = w.rows
    pool.close()
    pool_path.unlink()

    variant_summaries = []
    if config.variants:
        from gunshot_bench.variants import write_variants

        variant_summaries = write_variants(stage, list(config.variants), config.seed, progress=progress)
        for v in variant_summaries:
            counts[v.config] = dict(v.counts)

    build_report = report.make_report(records, skipped, results, hashes, duplicates_of, grouping, split,
                                      group_by=(config.group_by, unmatched), fixed_conflicts=fixed_conflicts)
    (stage / "build_report.json").write_text(json.dumps(build_report, indent=1, ensure_ascii=False))
    manifest = card.make_manifest(stage, config, build_report, counts)
    (stage / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    (stage / "README.md").write_text(card.render_card(stage, config, manifest, build_report, variant_summaries))
    return report.summarise(out_dir, build_report, counts, manifest["fingerprint"])


def _swap_into_place(stage: Path, out_dir: Path) -> None:
    """Replace `out_dir` by `stage` with renames: a crash leaves the old folder (possibly aside) or the new one."""
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        out_dir.rename(old)
    stage.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
