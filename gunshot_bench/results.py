"""Result files: one JSON per (model entry, task, dataset config), every seed inside.

The format is fixed by `gunshot_bench/data/result.schema.json` (JSON Schema 2020-12).
Writing validates first and replaces the file atomically, so an interrupted run never leaves
a half-written result behind and a rerun resumes from the results that exist. Reading a
folder never crashes on a bad file: it is reported with the failing field and left out.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from jsonschema import Draft202012Validator

SCHEMA_VERSION = 2
PROTOCOLS = ("grouped", "segment")
DATA_ORIGINS = ("simulated", "real", "mixed", "unknown")
RESAMPLE_DECIMALS = 5


class ResultError(ValueError):
    """A result file that cannot be read or does not follow the schema."""


@dataclass(frozen=True)
class BadResult:
    """A result file left out of the leaderboard, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The result JSON schema shipped in the package."""
    text = resources.files("gunshot_bench").joinpath("data/result.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _field(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_errors(result: dict) -> list[str]:
    """Every schema violation of `result` as 'field: reason', most specific field first."""
    errors = sorted(_validator().iter_errors(result), key=lambda e: (-len(e.absolute_path), list(map(str, e.absolute_path))))
    out = [f"{_field(e.absolute_path)}: {e.message}" for e in errors]
    if not out:
        out += _consistency_errors(result)
    return out


def _consistency_errors(result: dict) -> list[str]:
    """Checks the schema cannot express: seeds match per_seed, main score is an aggregate."""
    errors = []
    if sorted(result["seeds"]) != sorted(s["seed"] for s in result["per_seed"]):
        errors.append("seeds: do not match the seeds of per_seed")
    main = result["main_score"]
    agg = result["aggregate"].get(main["name"])
    if agg is None:
        errors.append(f"main_score.name: '{main['name']}' is not among the aggregate scores")
    elif agg["mean"] is None or not math.isclose(agg["mean"], main["mean"], rel_tol=1e-9, abs_tol=1e-12):
        errors.append(f"main_score.mean: differs from aggregate.{main['name']}.mean")
    return errors


def validate_result(result: dict, path: Path | str | None = None) -> None:
    """Raise ResultError naming the file, the field and the reason if `result` is invalid."""
    errors = validation_errors(result)
    if errors:
        where = f"{path}: " if path else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ResultError(f"{where}{errors[0]}{more}")


def to_jsonable(obj):
    """Plain JSON types: numpy scalars and arrays to Python, NaN and infinities to null."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return obj.as_posix()
    return obj


def utc_now() -> str:
    """The current time as ISO 8601 UTC, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def slug(text: str) -> str:
    """A file-name-safe form of `text` (letters, digits, '.', '_', '-')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def dataset_key(result: dict) -> str:
    """The dataset a result belongs to: name, version, preset and fingerprint prefix."""
    ds = result["dataset"]
    parts = [ds["name"], ds["version"]]
    if ds.get("preset"):
        parts.append(ds["preset"])
    parts.append(ds["fingerprint"][:8])
    return slug("-".join(parts))


def result_filename(entry: str, task: str, eval_config: str, kind: str = "leaderboard",
                    protocol: str = "grouped") -> str:
    """`<entry>__<task>__<config>.json`; robustness and reference results get a `<kind>__`
    prefix, the segment protocol a `__segment` suffix."""
    stem = f"{entry}__{task}__{eval_config}" + ("" if protocol == "grouped" else f"__{protocol}")
    return f"{stem}.json" if kind == "leaderboard" else f"{kind}__{stem}.json"


def write_result(path: Path | str, result: dict) -> Path:
    """Validate and write one result atomically (temporary file + rename); returns the path."""
    path = Path(path)
    result = to_jsonable(result)
    validate_result(result, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_result(path: Path | str) -> dict:
    """Read and validate one result file; ResultError names the file, field and reason."""
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise ResultError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except OSError as exc:
        raise ResultError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(result, dict):
        raise ResultError(f"{path}: (top level): a result is a JSON object, got {type(result).__name__}")
    validate_result(result, path)
    return result


_MAX_NAME_BYTES = 200


def load_results(root: Path | str) -> tuple[list[tuple[Path, dict]], list[BadResult]]:
    """Every valid result under `root` (recursively, sorted by path), and the bad ones with why.

    Hidden files (temporary files of an interrupted write) are ignored.
    """
    root = Path(root)
    good, bad = [], []
    for path in sorted(root.rglob("*.json")):
        if path.name.startswith(".") or path.name.endswith(".schema.json"):
            continue
        if len(path.name.encode()) > _MAX_NAME_BYTES:  # its plot files would exceed the filesystem's limit
            bad.append(BadResult(path, f"file name over {_MAX_NAME_BYTES} bytes; rename it"))
            continue
        try:
            good.append((path, read_result(path)))
        except ResultError as exc:
            bad.append(BadResult(path, str(exc).removeprefix(f"{path}: ")))
    return good, bad


def _resamples(evaluation: dict, metric: str) -> dict:
    """{"resamples": per-seed bootstrap scores of `metric`} rounded (to keep files small), or {}."""
    boot = (evaluation.get("resamples") or {}).get(metric)
    if boot is None:
        return {}
    return {"resamples": np.round(np.asarray(boot, dtype=np.float64), RESAMPLE_DECIMALS)}


def build_result(
    *,
    kind: str,
    task: str,
    eval_config: str,
    dataset: dict,
    model: dict,
    label_names,
    evaluation: dict,
    bootstrap,
    seed_info: list[dict] | None = None,
    params: int | None = None,
    wall_time_s: float,
    main_metric: str | None = None,
    detection_settings=None,
    breakdown: dict | None = None,
    date: str | None = None,
    notes: str | None = None,
    protocol: str = "grouped",
    data_origin: str | None = None,
    provenance: dict | None = None,
) -> dict:
    """Assemble a result from `metrics.evaluate_seeds` output and the run's provenance.

    Args:
        evaluation: the output of `gunshot_bench.metrics.evaluate_seeds`.
        bootstrap: the `BootstrapSettings` used.
        seed_info: per seed (same order as evaluation["per_seed"]): train_time_s,
            inference_time_per_clip_ms, epochs, history; merged into per_seed.
        main_metric: default `metrics.MAIN_METRIC[task]`.
        protocol: the split protocol the model was trained and scored under.
        data_origin: "simulated", "real" or "mixed" (default: "simulated" when the dataset
            names a simulator preset, else "unknown").
        provenance: `repro.code_provenance()` (computed here when omitted).
    """
    from dataclasses import asdict

    from gunshot_bench import __version__
    from gunshot_bench.metrics import MAIN_METRIC
    from gunshot_bench.repro import code_provenance

    per_seed = [dict(s) for s in evaluation["per_seed"]]
    for seed_result, info in zip(per_seed, seed_info or [{}] * len(per_seed), strict=True):
        seed_result.update({k: v for k, v in info.items() if v is not None})
    name = main_metric or MAIN_METRIC[task]
    agg = evaluation["aggregate"]
    if agg.get(name, {}).get("mean") is None:
        if agg.get("accuracy", {}).get("mean") is None:
            raise ValueError(f"main metric '{name}' was not computed for task '{task}'")
        # e.g. a detection test set with one class only (a tiny corpus): no curve metrics
        notes = (notes + "; " if notes else "") + f"{name} is undefined on this test set; main score is accuracy"
        name = "accuracy"

    def mean_of(key):
        vals = [s[key] for s in per_seed if s.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    result = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "package_version": __version__,
        "dataset": dataset,
        "model": model,
        "task": task,
        "eval_config": eval_config,
        "label_names": list(label_names),
        "seeds": [s["seed"] for s in per_seed],
        "n_test": evaluation["n_test"],
        "per_seed": per_seed,
        "aggregate": agg,
        "main_score": {"name": name, **agg[name], **_resamples(evaluation, name)},
        "bootstrap": asdict(bootstrap),
        "params": params,
        "train_time_s": mean_of("train_time_s"),
        "inference_time_per_clip_ms": mean_of("inference_time_per_clip_ms"),
        "wall_time_s": float(wall_time_s),
        "date": date or utc_now(),
        "protocol": protocol,
        "data_origin": data_origin or ("simulated" if dataset.get("preset") else "unknown"),
        "provenance": provenance or code_provenance(),
    }
    if detection_settings is not None:
        result["detection_settings"] = asdict(detection_settings)
    if breakdown is not None:
        result["breakdown"] = breakdown
    if notes:
        result["notes"] = notes
    return to_jsonable(result)
