"""`sim`: the embedded simulated corpus written by `gunshot-bench synth` (`gunshot_bench.sim`).

Provenance: generated on this machine from physics and a seed (muzzle blast, ballistic N-wave,
action noise, propagation, room and recording chain; see docs/simulator.md). It is NOT
recorded audio. Licence: "CC0-1.0 (simulated by gunshot-bench)".

Labels: `metadata.csv` at the root lists every generated file with its label (the model's
display name for gunshots, the background kind, e.g. "crowd" or "door_slam", for backgrounds),
its recording id (the split group: one synthesised recording) and every generation parameter,
which is kept in `ClipRecord.extra`; `sim_params` (the listener-recoverable parameters, JSON)
becomes the dataset column of that name. The folder layout is the `folder` loader's
(`<category>/<model>/<id>.wav`, `_background/<kind>/<id>.wav`); a file that metadata.csv does
not list is treated exactly as the `folder` loader would treat it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from gunshot_bench.errors import UserError
from gunshot_bench.sources import folder
from gunshot_bench.sources.base import ClipRecord, SkippedFile, precheck, walk_files
from gunshot_bench.taxonomy import MODELS, Label, get_model, resolve_label

SOURCE = "sim"
LICENCE = "CC0-1.0 (simulated by gunshot-bench)"
METADATA = "metadata.csv"
#: Files of the corpus that are not audio, and why they are not used.
_NOT_AUDIO = {
    METADATA: "metadata of the simulated corpus (read, not audio)",
    ".gunshot_bench_synth.json": "completion marker of the simulated corpus (not audio)",
    ".gunshot_bench_synth.partial.json": "marker of an unfinished simulated corpus (not audio)",
}
#: Metadata columns copied into ClipRecord.extra (the rest stay in metadata.csv).
EXTRA_COLUMNS = ("kind", "environment", "distance_m", "azimuth_deg", "n_shots", "nwave_present",
                 "clipping", "codec", "sample_rate", "channels", "rt60_s", "seed", "preset", "session",
                 "muzzle_device", "sim_params")


def read_metadata(root: Path) -> dict[str, dict]:
    """metadata.csv as {rel_path: row}; FileNotFoundError names the folder when it is missing."""
    path = Path(root) / METADATA
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metadata.csv; is {root} a corpus written by `gunshot-bench synth`? "
                                "(use --source folder=... for other trees)")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    missing = {"rel_path", "recording_id", "label"} - set(rows[0] if rows else {})
    if rows and missing:
        raise UserError(f"{path}: missing columns {sorted(missing)}")
    return {row["rel_path"]: row for row in rows}


def scan(root: Path) -> Iterator[ClipRecord | SkippedFile]:
    """Every file under `root`, once: a ClipRecord per generated recording, else a SkippedFile."""
    root = Path(root)
    meta = read_metadata(root)
    for path, rel in walk_files(root):
        if rel in _NOT_AUDIO:
            yield SkippedFile(path, rel, SOURCE, _NOT_AUDIO[rel])
            continue
        row = meta.get(rel)
        if row is None:  # not ours: the generic folder rules (and its reasons) apply
            yield from folder_one(path, rel)
            continue
        skipped = precheck(path, rel, SOURCE)
        if skipped:
            yield skipped
            continue
        label = _label(row)
        if label.kind == "unresolved":
            yield SkippedFile(path, rel, SOURCE, f"metadata label '{row['label']}' not in the taxonomy: {label.note}")
            continue
        yield ClipRecord(path=path, rel_path=rel, source=SOURCE, raw_label=row["label"], label=label,
                         recording_id=f"{SOURCE}:{row['recording_id']}", licence=LICENCE,
                         extra={k: row[k] for k in EXTRA_COLUMNS if k in row})


def _label(row: dict) -> Label:
    """The simulator knows the exact model it rendered, even where the display name alone is
    ambiguous ("M4" also names a Benelli shotgun): a model column in MODELS is taken as is."""
    model = row.get("model") or ""
    if model in MODELS:
        return Label(raw=row["label"], kind="model", category=get_model(model).category, model=model,
                     note="exact model from metadata.csv (the simulator's own label)")
    return resolve_label(row["label"])


def folder_one(path: Path, rel: str) -> Iterator[ClipRecord | SkippedFile]:
    """The `folder` loader's verdict on one file, under this source's name."""
    skipped = precheck(path, rel, SOURCE)
    if skipped:
        yield skipped
        return
    raw, label = folder.label_from_path(rel)
    if label.kind == "unresolved":
        yield SkippedFile(path, rel, SOURCE, f"not listed in metadata.csv and label not in the taxonomy: {label.note}")
        return
    yield ClipRecord(path=path, rel_path=rel, source=SOURCE, raw_label=raw, label=label,
                     recording_id=f"{SOURCE}:{Path(rel).with_suffix('').as_posix()}",
                     licence=f"{folder.LICENCE}; not listed in metadata.csv")
