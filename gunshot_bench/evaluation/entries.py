"""Leaderboard entries, seeds, the dataset's provenance, and `RunLayout`: every output path.

Layout under a leaderboard folder `out_dir`:

    results/<dataset key>/<entry>__<task>__<config>[__segment].json        committed
    results/<dataset key>/reference__<name>__<task>__<config>[__segment].json
    results/<dataset key>/robustness__<entry>__<task>__<config>-<by>.json
    runs/<dataset key>/<entry>/<task>[__segment]/seed<k>/                  checkpoints (not committed)
    runs/<dataset key>/study_b/<model>/seed<k>/
"""

from __future__ import annotations

import difflib
import json
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gunshot_bench.errors import UserError
from gunshot_bench.models import model_class
from gunshot_bench.plugins import baseline_dirs
from gunshot_bench.results import dataset_key, result_filename
from gunshot_bench.train import BASELINES_DIR, baseline_path, load_baseline

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ entries


def baseline_names() -> list[str]:
    """Names of every entry in `baselines/` (and beside the loaded plugins)."""
    return sorted({p.stem for d in (BASELINES_DIR, *baseline_dirs()) for p in d.glob("*.toml")})


def resolve_entries(models="all", profile: str | None = None) -> list[dict]:
    """The baseline entries to run: "all", a comma-separated string or a list of names.

    Raises:
        UserError: an unknown name, with the close matches and the available names.
    """
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
        raise UserError(f"unknown leaderboard entr{'y' if len(unknown) == 1 else 'ies'} {', '.join(hints)}; "
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
    check = getattr(model_class(entry["model"]), "unavailable_reason", None)
    return check(entry["overrides"]) if check is not None else None


def _spec(name: str) -> dict:
    return tomllib.loads((BASELINES_DIR / f"{name}.toml").read_text())


def _profiles(name: str) -> set[str]:
    return set(tomllib.loads(baseline_path(name).read_text()).get("profiles", {}))


def seed_list(seeds) -> list[int]:
    """`3` -> [0, 1, 2]; a list is kept as it is."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise UserError(f"seeds must be at least 1, got {seeds}")
        return list(range(seeds))
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise UserError(f"seeds must be distinct and non-empty, got {seeds}")
    return out


# ---------------------------------------------------------------------------- the dataset


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


# ------------------------------------------------------------------------------ the layout


def protocol_suffix(protocol: str, sep: str = "__") -> str:
    """"" for the default `grouped` protocol, else `sep + protocol` (in paths and labels)."""
    return "" if protocol == "grouped" else f"{sep}{protocol}"


@dataclass(frozen=True)
class RunLayout:
    """Every path a leaderboard, robustness or study B run writes, from one place.

    Attributes:
        out_dir: the leaderboard folder (results/, LEADERBOARD.md, index.html, plots/).
        key: the dataset key (`dataset_key`) that names the results' and runs' folders.
        runs_root: where checkpoints go (default `out_dir/runs/<key>`).
    """

    out_dir: Path
    key: str
    runs_root: Path

    @classmethod
    def for_dataset(cls, out_dir: Path | str, prov: dict, runs_dir: Path | str | None = None) -> RunLayout:
        """The layout of `out_dir` for a dataset with provenance `prov` (see `dataset_provenance`)."""
        out_dir = Path(out_dir)
        key = dataset_key({"dataset": {**prov, "config": "clean"}})
        return cls(out_dir, key, Path(runs_dir) if runs_dir is not None else out_dir / "runs" / key)

    @property
    def results_root(self) -> Path:
        """Every dataset's results (what the renderer reads)."""
        return self.out_dir / "results"

    @property
    def results_dir(self) -> Path:
        return self.results_root / self.key

    def run_dir(self, entry: str, task: str, protocol: str, seed: int) -> Path:
        """The checkpoint folder of one trained (entry, task, protocol, seed)."""
        return self.runs_root / entry / f"{task}{protocol_suffix(protocol)}" / f"seed{seed}"

    def study_b_dir(self, model: str, seed: int) -> Path:
        return self.runs_root / "study_b" / model / f"seed{seed}"

    def result_path(self, entry: str, task: str, config: str, kind: str = "leaderboard",
                    protocol: str = "grouped") -> Path:
        """The result file of one entry (or reference) on one task, config and protocol."""
        return self.results_dir / result_filename(entry, task, config, kind=kind, protocol=protocol)
