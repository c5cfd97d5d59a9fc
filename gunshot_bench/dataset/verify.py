"""Check a built dataset folder against its own manifest before anything reads it.

The build writes, in `manifest.json`, the sha256 of every shard, the rows per config and
split, and a fingerprint over the shard listing; each row carries the `segment_sha256` of its
16-bit samples. Two levels of checking:

- cheap (`check_dataset`, run by `train`, `leaderboard`, `robustness` and `load_dataset`
  unless told not to): the fingerprint matches the listing, every listed shard exists and
  has its checksum, no unlisted shard sits among them, and the parquet row counts match.
  It reads each shard's bytes once and decodes nothing; its result is remembered for the
  process while no file changes.
- full (`verify_dataset(..., full=True)`, `gunshot-bench verify DIR`): also decodes every
  row and recomputes its `segment_sha256`, checks each clean/background row's labels against
  `build_report.json`, and reports any file in the folder that no build writes.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from gunshot_bench.dataset.ownership import MARKER
from gunshot_bench.dataset.shards import file_sha256
from gunshot_bench.errors import UserError
from gunshot_bench.taxonomy import CATEGORIES, MODELS

_TOP_LEVEL = {"README.md", "manifest.json", "build_report.json", MARKER}
_checked: dict[tuple, None] = {}


class DatasetCorrupt(UserError):
    """A dataset folder does not match its manifest (a one-line user error)."""


@dataclass
class Verification:
    """What a verification looked at and every problem it found (empty: the folder is intact)."""

    data_dir: Path
    problems: list[str] = field(default_factory=list)
    shards: int = 0
    rows: int = 0
    rows_decoded: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        head = (f"{self.data_dir}: {self.shards} shards, {self.rows} rows"
                + (f", {self.rows_decoded} rows decoded" if self.rows_decoded else ""))
        if self.ok:
            return head + ": intact"
        more = f" (and {len(self.problems) - 1} more problems; run `gunshot-bench verify {self.data_dir}`)" \
            if len(self.problems) > 1 else ""
        return f"{head}: {self.problems[0]}{more}"


def _manifest(data_dir: Path, v: Verification) -> dict | None:
    path = data_dir / "manifest.json"
    if not path.is_file():
        v.problems.append(f"{path} is missing: not a built gunshot-bench dataset")
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        v.problems.append(f"{path} is not valid JSON ({exc})")
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), dict) \
            or not isinstance(manifest.get("rows"), dict):
        v.problems.append(f"{path} is not a gunshot-bench manifest (no 'shards' and 'rows' tables)")
        return None
    return manifest


def _listed_shards(manifest: dict, v: Verification) -> list[tuple[str, str, str, str]]:
    """(config, split, relative path, sha256) of every shard the manifest lists."""
    listed = []
    for config, splits in manifest["shards"].items():
        for split, shards in (splits or {}).items() if isinstance(splits, dict) else ():
            for s in shards if isinstance(shards, list) else ():
                if isinstance(s, dict) and isinstance(s.get("path"), str) and isinstance(s.get("sha256"), str):
                    listed.append((config, split, s["path"], s["sha256"]))
                else:
                    v.problems.append(f"manifest.json: malformed shard entry under {config}/{split}: {s!r:.80}")
    return listed


def _cheap(data_dir: Path, manifest: dict, v: Verification) -> list[tuple[str, str, str, str]]:
    listed = _listed_shards(manifest, v)
    listing = sorted(f"{path}:{sha}" for _, _, path, sha in listed)
    fingerprint = hashlib.sha256("\n".join(listing).encode()).hexdigest()
    if manifest.get("fingerprint") != fingerprint:
        v.problems.append(f"manifest.json's fingerprint {manifest.get('fingerprint')!s:.16} does not match its own "
                          f"shard listing ({fingerprint:.16}): the manifest was edited")
    counts: dict[tuple[str, str], int] = {}
    damaged: set[tuple[str, str]] = set()  # their row counts are unknown, not wrong
    for config, split, rel, expected in listed:
        path = data_dir / rel
        v.shards += 1
        if ".." in Path(rel).parts or Path(rel).is_absolute() or not path.is_file():
            v.problems.append(f"shard {rel} is missing")
            damaged.add((config, split))
            continue
        found = file_sha256(path)
        if found != expected:
            v.problems.append(f"shard {rel} fails its checksum (expected {expected}, found {found})")
            damaged.add((config, split))
            continue
        counts[(config, split)] = counts.get((config, split), 0) + pq.ParquetFile(path).metadata.num_rows
    listed_paths = {rel for _, _, rel, _ in listed}
    for path in sorted((data_dir / "data").rglob("*.parquet")) if (data_dir / "data").is_dir() else ():
        rel = path.relative_to(data_dir).as_posix()
        if rel not in listed_paths:
            v.problems.append(f"shard {rel} is not listed in manifest.json (a stray file; its rows would be loaded)")
    for config, splits in manifest["rows"].items():
        for split, expected in (splits or {}).items() if isinstance(splits, dict) else ():
            found = counts.get((config, split), 0)
            if found != expected and (config, split) not in damaged:
                v.problems.append(f"config {config} split {split} holds {found} rows, manifest.json says {expected}")
            v.rows += found
    return listed


def _labels_of(data_dir: Path, v: Verification) -> dict[tuple[str, str], tuple] | None:
    path = data_dir / "build_report.json"
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        return {(e["source"], e["rel_path"]): (e.get("category"), e.get("model")) for e in files
                if e.get("status") == "included"}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        v.problems.append(f"{path} cannot be read ({type(exc).__name__}: {exc})")
        return None


def _full(data_dir: Path, listed, v: Verification) -> None:
    labels = _labels_of(data_dir, v)
    for config, _, rel, _ in listed:
        if f"shard {rel} is missing" in v.problems:
            continue
        try:  # a shard that fails its checksum is still read where it can be, to name the rows
            for batch in pq.ParquetFile(data_dir / rel).iter_batches(batch_size=64):
                for row in batch.to_pylist():
                    _check_row(row, f"shard {rel}, row {row.get('clip_id')}", config, labels, v)
        except (pa.ArrowException, OSError) as exc:
            v.problems.append(f"shard {rel} cannot be read as parquet ({str(exc).splitlines()[0]})")


def _name(names: tuple, index) -> str | None:
    """The name of a ClassLabel id; None for -1 (unknown) or anything out of range."""
    return names[index] if isinstance(index, int) and 0 <= index < len(names) else None


def _check_row(row: dict, where: str, config: str, labels: dict | None, v: Verification) -> None:
    v.rows_decoded += 1
    try:
        pcm, _ = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, KeyError) as exc:
        v.problems.append(f"{where}: audio not decodable ({exc})")
        return
    if hashlib.sha256(pcm.tobytes()).hexdigest() != row.get("segment_sha256"):
        v.problems.append(f"{where}: audio does not match its segment_sha256")
    if labels is not None and config in ("clean", "background"):
        want = labels.get((row.get("source"), row.get("rel_path")), "not in build_report.json")
        have = (_name(CATEGORIES, row.get("category")), _name(MODELS, row.get("model")))
        if want != have:
            v.problems.append(f"{where}: labels {have} differ from build_report.json's {want}")


def _unknown_files(data_dir: Path, listed, v: Verification) -> None:
    known = {rel for _, _, rel, _ in listed} | _TOP_LEVEL
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        if rel not in known and not rel.endswith(".parquet"):  # stray shards are reported by the cheap check
            v.problems.append(f"unknown file {rel} (not written by a build)")


def verify_dataset(data_dir: Path | str, full: bool = True) -> Verification:
    """Every problem of a dataset folder measured against its manifest; see the module docstring."""
    data_dir = Path(data_dir)
    v = Verification(data_dir)
    if not data_dir.is_dir():
        v.problems.append(f"{data_dir} is not a folder")
        return v
    manifest = _manifest(data_dir, v)
    if manifest is None:
        return v
    listed = _cheap(data_dir, manifest, v)
    if full:
        _full(data_dir, listed, v)
        _unknown_files(data_dir, listed, v)
    return v


def _state(data_dir: Path) -> tuple:
    """What the cheap check's result depends on: every file's size and modification time."""
    stats = []
    for path in sorted([data_dir / "manifest.json", *(data_dir / "data").rglob("*")]):
        try:
            st = path.stat()
            stats.append((str(path), st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((str(path), None, None))
    return (str(data_dir.resolve()), tuple(stats))


def check_dataset(data_dir: Path | str) -> None:
    """The cheap verification; raise DatasetCorrupt (one line) on the first problem.

    Remembered for the process while no shard or manifest changes, so that commands loading
    many splits pay for it once.
    """
    data_dir = Path(data_dir)
    key = _state(data_dir)
    if key in _checked:
        return
    v = verify_dataset(data_dir, full=False)
    if not v.ok:
        raise DatasetCorrupt(f"{v.line()}; rebuild it, or pass --no-verify (verify=False) to read it anyway")
    _checked[key] = None
