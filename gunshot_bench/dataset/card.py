"""The dataset card (README.md with YAML configs) and `manifest.json` of a built dataset.

The card's prose comes from a template in `data/dataset_cards/` (one per dataset format
version, also reachable as `dataset_cards/` at the repository root), filled with the
build's counts; its YAML declares every config with `data_files` per split and the
`dataset_info` features that `datasets` reads.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from importlib import resources
from pathlib import Path
from string import Template

import datasets
import pyarrow.parquet as pq
import yaml

from gunshot_bench import __version__
from gunshot_bench.dataset.citation import citation_section
from gunshot_bench.dataset.index import LazyList
from gunshot_bench.dataset.schema import BASE_CONFIGS, IS_GUNSHOT_NAMES, SPLITS, clean_features
from gunshot_bench.dataset.shards import file_sha256, iter_rows, shard_paths
from gunshot_bench.taxonomy import CATEGORIES, MODELS

CARD_TEMPLATE = "v0.1.md"

CONFIG_DESCRIPTIONS = {
    "clean": "gunshot segments as recorded (the default config; study A's task)",
    "background": "non-gunshot segments (crowds, screams, ambience, impulsive confusers); the noise pool of the variants",
}


def make_manifest(stage: Path, config, build_report: dict, counts: dict[str, dict[str, int]]) -> dict:
    """Inputs with checksums, parameters, versions, row counts and a fingerprint of every shard."""
    shards = {}
    for name in counts:
        shards[name] = {}
        for split in SPLITS:
            shards[name][split] = [{"path": p.relative_to(stage).as_posix(), "sha256": file_sha256(p)}
                                   for p in shard_paths(stage, name, split)]
    listing = sorted(f"{s['path']}:{s['sha256']}" for c in shards.values() for ss in c.values() for s in ss)
    return {
        "name": config.name,
        "version": config.version,
        "package_version": __version__,
        "parameters": config.parameters(),
        # lazy: read from the report's files while manifest.json is written (see report.write_json)
        "inputs": LazyList(lambda: iter(build_report["files"]),
                           lambda e: {k: e.get(k) for k in ("source", "rel_path", "sha256", "bytes", "status")}),
        "rows": counts,
        "shards": shards,
        "fingerprint": hashlib.sha256("\n".join(listing).encode()).hexdigest(),
    }


def split_sizes(root: Path, config: str) -> dict[str, dict[str, int]]:
    """Rows, uncompressed bytes (what `datasets` calls num_bytes) and file bytes of each split's shards.

    Read from the parquet footers alone, so this costs no decoding however large the build.
    """
    sizes = {}
    for split in SPLITS:
        rows = data_bytes = file_bytes = 0
        for path in shard_paths(root, config, split):
            meta = pq.ParquetFile(path).metadata
            rows += meta.num_rows
            data_bytes += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            file_bytes += path.stat().st_size
        if rows:
            sizes[split] = {"num_examples": rows, "num_bytes": data_bytes, "file_bytes": file_bytes}
    return sizes


def size_category(n_rows: int) -> str:
    """The Hub's `size_categories` bucket of a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n_rows < limit:
            return name
    return "n>10M"


def hub_licences(licences: set[str]) -> tuple[str | list[str], list[str]]:
    """The card's `license` value and one line per source licence.

    A licence string counts as a Hub licence id only when it starts with one (e.g. "CC-BY-NC-3.0 (...)");
    a build holding any other (per-clip Freesound licences, user data, YouTube) is `other`, and
    the lines name every source's licence.
    """
    ids = set()
    for licence in licences:
        match = _LICENCE_ID.match(licence.split(": ", 1)[-1])
        ids.add(match.group(0).lower() if match else None)
    lines = sorted(licences)
    if not ids or None in ids:
        return "other", lines
    return sorted(ids), lines


_LICENCE_ID = re.compile(r"^(CC0-1\.0|CC-BY(-NC)?(-SA|-ND)?-\d\.\d|Apache-2\.0|MIT)(?=$|[\s;(])", re.IGNORECASE)


def card_yaml(root: Path, counts: dict[str, dict[str, int]], features_of: dict, fingerprint: str,
              licences: set[str]) -> str:
    """YAML of the card: one config per non-empty config with its splits' sizes, and Hub metadata.

    `dataset_info` carries each config's split rows and bytes and, in its description, the build's
    fingerprint: `datasets` hashes `dataset_info` into its cache key, so a cached copy of another
    build (another folder, or this folder rebuilt with another seed) is never reused.
    """
    configs, infos = [], []
    for name in counts:
        sizes = split_sizes(root, name)
        if not sizes:
            continue
        configs.append({"config_name": name, **({"default": True} if name == "clean" else {}),
                        "data_files": [{"split": s, "path": f"data/{name}/{s}-*.parquet"} for s in sizes]})
        infos.append({"config_name": name,
                      "description": f"gunshot-bench config {name}; build fingerprint {fingerprint}",
                      "features": features_of[name]._to_yaml_list(),
                      "splits": [{"name": s, "num_bytes": v["num_bytes"], "num_examples": v["num_examples"]}
                                 for s, v in sizes.items()],
                      "download_size": sum(v["file_bytes"] for v in sizes.values()),
                      "dataset_size": sum(v["num_bytes"] for v in sizes.values())})
    licence, licence_lines = hub_licences(licences)
    n_segments = sum(sum(counts.get(c, {}).values()) for c in BASE_CONFIGS)
    meta = {"pretty_name": "gunshot-bench: firearm sound recognition",
            "license": licence,
            **({"license_name": "mixed-per-source", "license_details": "; ".join(licence_lines)}
               if licence == "other" else {}),
            "size_categories": [size_category(n_segments)],
            "task_categories": ["audio-classification"],
            "task_ids": ["multi-class-classification"],
            "tags": ["gunshot", "firearm", "audio", "benchmark"], "configs": configs, "dataset_info": infos}
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def class_counts_table(build_report: dict) -> str:
    """Segments per model (or category when the model is unknown) and split."""
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for e in build_report["files"]:
        if e["status"] != "included":
            continue
        key = (e.get("category") or ("non-gunshot" if e.get("label_kind") == "background" else "unknown"),
               e.get("model") or (e.get("label_raw") if e.get("label_kind") == "background" else "(unknown model)"))
        counts[key][e["split"]] += e["segments"]
    order = {c: i for i, c in enumerate(CATEGORIES)}
    model_order = {m: i for i, m in enumerate(MODELS)}
    rows = [[c, m, *(v[s] for s in SPLITS), sum(v.values())]
            for (c, m), v in sorted(counts.items(), key=lambda kv: (order.get(kv[0][0], 99), model_order.get(kv[0][1], 99), kv[0]))]
    return _table(["category", "model / label", *SPLITS, "total"], rows)


def sources_table(build_report: dict) -> str:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in build_report["files"]:
        per[e["source"]][0] += 1
        per[e["source"]][1 if e["status"] == "included" else 2] += 1
        per[e["source"]][3] += e.get("segments", 0)
    return _table(["source", "files found", "included", "skipped", "segments"], [[k, *v] for k, v in sorted(per.items())])


#: What each base column holds (every config has these; variants add theirs, described in their sections).
COLUMN_DESCRIPTIONS = {
    "audio": "the 2.0 s segment: 16-bit mono WAV bytes at 44.1 kHz (`Audio`; cast with `decode=False` to read the bytes)",
    "category": "firearm category id (`ClassLabel`: " + ", ".join(CATEGORIES) + "); -1 unknown or not a gunshot",
    "model": "firearm model id (`ClassLabel` over the taxonomy's 32 models); -1 unknown or not a gunshot",
    "is_gunshot": "`ClassLabel` " + ", ".join(f"{i} {n}" for i, n in enumerate(IS_GUNSHOT_NAMES)),
    "label_raw": "the label as the source gave it (folder name, CSV cell), before the taxonomy resolved it",
    "clip_id": "unique id of the segment: recording id and segment index",
    "source": "the collection kind it came from (`--source KIND=...`)",
    "rel_path": "the input file, relative to its source folder",
    "recording_id": "the recording the segment was cut from; the split is grouped by it",
    "segment_index": "position of the segment in its recording (0-based)",
    "start_s": "start of the segment in its recording, in seconds",
    "orig_sample_rate": "sample rate of the input file, Hz",
    "orig_channels": "channel count of the input file (segments are downmixed to mono)",
    "licence": "licence of the input file",
    "segment_sha256": "sha256 of the segment's samples (near-duplicate and leakage checks)",
    "padded": "whether the recording was shorter than one segment and padded to it",
    "orig_duration_s": "length of the input recording, in seconds",
}


def structure_section(root: Path, clean: datasets.Features) -> str:
    """Every base column with its type and meaning, and one example row of the build (audio elided)."""
    rows = [[f"`{name}`", _type_name(feature), COLUMN_DESCRIPTIONS.get(name, "")] for name, feature in clean.items()]
    example = next((r for split in SPLITS for r in iter_rows(root, "clean", split)), None)
    if example is None:
        example = next((r for split in SPLITS for r in iter_rows(root, "background", split)), None)
    shown = "(this build has no rows)"
    if example is not None:
        audio = example.pop("audio")
        example = {"audio": {"path": audio["path"], "bytes": f"<{len(audio['bytes'])} bytes of WAV>"}, **example}
        shown = "```json\n" + json.dumps(example, indent=1, ensure_ascii=False, default=str) + "\n```"
    return _table(["column", "type", "meaning"], rows) + "\n\nExample row:\n\n" + shown


def _type_name(feature) -> str:
    if isinstance(feature, datasets.ClassLabel):
        return f"ClassLabel ({feature.num_classes})"
    if isinstance(feature, datasets.Value):
        return feature.dtype
    return type(feature).__name__


def render_card(root: Path, config, manifest: dict, build_report: dict, variant_summaries: list) -> str:
    """The card of the build in `root` (its shards are read for the split sizes)."""
    counts = manifest["rows"]
    features_of = {"clean": clean_features(), "background": clean_features()}
    features_of.update({v.config: v.features for v in variant_summaries})
    kinds = {k for k, _ in config.sources}
    banners = []
    if "sim" in kinds:
        banners.append("> **Simulated audio.** The recordings of this build were generated by gunshot-bench's "
                       "physical simulator (`gunshot-bench synth`), not recorded. Use it to exercise the pipeline and "
                       "to compare methods; do not report its scores as performance on real gunfire.")
    non_commercial = sorted(l for l in _licences(build_report) if "-NC" in l.upper() or "NON-COMMERCIAL" in l.upper())
    if non_commercial:
        banners.append("> **Non-commercial licences.** Part of this build's audio is licensed for non-commercial use "
                       "only (" + "; ".join(non_commercial) + "). The `licence` column gives each row's licence; "
                       "filter on it before any commercial use or redistribution.")
    limitations = []
    if "kaggle" in kinds:
        limitations.append("The Kaggle collection's clips carry no source-video id: they are grouped by numbered "
                           "file stem and by near-duplicate audio, but this collection cannot be split by source video, "
                           "so clips of one video may still sit in different splits.")
    limitations.append("Near-duplicates are found among segments as cut (aligned re-encodings and re-publications); "
                       "the same audio cut at another offset is not detected.")
    padded = build_report["summary"].get("files_padded", 0)
    if padded:
        limitations.append(f"{padded} recording(s) shorter than one segment were padded to it (after their end, "
                           f"with their own noise floor or zeros; column `padded`, original length in "
                           f"`orig_duration_s`).")
    split = build_report["split"]
    limitations += [f"Split: {u}." for u in split["unmet"]]
    limitations += [f"Split: {w}." for w in split.get("warnings", [])]
    moves = "\n".join(f"- {m['group']} ({m['stratum']}): {m['from']} -> {m['to']}" for m in split["moves"]) or "- none"
    config_rows = [[name, CONFIG_DESCRIPTIONS.get(name, next((v.card_section.splitlines()[0] for v in variant_summaries
                                                                if v.config == name), "")),
                    *(counts[name][s] for s in SPLITS)] for name in counts]
    template = Template(resources.files("gunshot_bench.data.dataset_cards").joinpath(CARD_TEMPLATE).read_text())
    return template.substitute(
        yaml=card_yaml(root, counts, features_of, manifest['fingerprint'], _licences(build_report)).strip(),
        structure=structure_section(root, features_of["clean"]),
        citation=citation_section(kinds),
        name=config.name,
        version=config.version,
        package_version=__version__,
        fingerprint=manifest["fingerprint"],
        banner="\n\n".join(banners),
        configs_table=_table(["config", "what", *SPLITS], config_rows),
        class_table=class_counts_table(build_report),
        sources_table=sources_table(build_report),
        licences="\n".join(f"- {l}" for l in sorted(_licences(build_report))) or "- none",
        seed=config.seed,
        ratios=" / ".join(f"{r:.0%}" for r in config.ratios),
        n_groups=split["groups"],
        moves=moves,
        n_near_duplicates=len(build_report["near_duplicates"]),
        variant_sections="\n\n".join(v.card_section for v in variant_summaries) or "No variant configs in this build.",
        limitations="\n".join(f"- {l}" for l in limitations),
        summary=json.dumps(build_report["summary"]["skip_reasons"], ensure_ascii=False),
        files_found=build_report["summary"]["files_found"],
        files_included=build_report["summary"]["files_included"],
        files_skipped=build_report["summary"]["files_skipped"],
    )


def _licences(build_report: dict) -> set[str]:
    return {f"{e['source']}: {e['licence']}" for e in build_report["files"] if e.get("licence") and e["status"] == "included"}
