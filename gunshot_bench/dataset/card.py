"""The dataset card (README.md with YAML configs) and `manifest.json` of a built dataset.

The card's prose comes from a template in `data/dataset_cards/` (one per dataset format
version, also reachable as `dataset_cards/` at the repository root), filled with the
build's counts; its YAML declares every config with `data_files` per split and the
`dataset_info` features that `datasets` reads.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path
from string import Template

import yaml

from gunshot_bench import __version__
from gunshot_bench.dataset.schema import SPLITS, clean_features
from gunshot_bench.dataset.shards import file_sha256, shard_paths
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
        "inputs": [{k: e.get(k) for k in ("source", "rel_path", "sha256", "bytes", "status")}
                   for e in build_report["files"]],
        "rows": counts,
        "shards": shards,
        "fingerprint": hashlib.sha256("\n".join(listing).encode()).hexdigest(),
    }


def card_yaml(counts: dict[str, dict[str, int]], features_of: dict) -> str:
    """YAML of the card: one config per non-empty config, listing only the splits that have rows."""
    configs, infos = [], []
    for name in counts:
        splits = [s for s in SPLITS if counts[name].get(s)]
        if not splits:
            continue
        configs.append({"config_name": name, **({"default": True} if name == "clean" else {}),
                        "data_files": [{"split": s, "path": f"data/{name}/{s}-*.parquet"} for s in splits]})
        infos.append({"config_name": name, "features": features_of[name]._to_yaml_list()})
    meta = {"pretty_name": "gunshot-bench", "task_categories": ["audio-classification"],
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


def render_card(config, manifest: dict, build_report: dict, variant_summaries: list) -> str:
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
        yaml=card_yaml(counts, features_of).strip(),
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
