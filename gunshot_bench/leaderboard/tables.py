"""The leaderboard's tables: results grouped by dataset and task, as rows of formatted cells.

Both renderers (Markdown and HTML) draw from `build_sections`, so the page and
`LEADERBOARD.md` always show the same numbers. Everything here is a pure function of the
result dicts: same results, same text, byte for byte.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from gunshot_bench.results import dataset_key, slug  # noqa: F401 - used by render and plots too

TASK_ORDER = ("category", "model", "two_stage", "detection")
TASK_TITLES = {
    "category": "Category (5 classes)",
    "model": "Firearm model (32 classes): flat and two-stage classifiers",
    "two_stage": "Firearm model (32 classes), two-stage classifier",
    "detection": "Detection (gunshot vs. background)",
}
METRIC_TITLES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced acc.",
    "macro_f1": "macro-F1",
    "recall_at_far": "recall at FAR",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "false_alarms_per_hour": "false alarms / h",
    "stage1_accuracy": "stage-1 acc.",
    "stage2_accuracy": "stage-2 acc.",
    "routing_error": "routing error",
    "recall": "recall",
}
_NOT_PERCENT = {"false_alarms_per_hour"}


@dataclass(frozen=True)
class Table:
    """One table: a title, a caption, column names and rows of text cells."""

    title: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    slug: str = ""
    key: tuple = ()  # what the table shows: (task,) or (task, condition, metric)
    #: the entry each row shows (same order as `rows`), so a page can link a row to its entry
    row_entries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One entry of a dataset's results: what it is and the result files that hold it."""

    name: str
    kind: str  # "trained", "reference" (trains nothing) or "robustness only" (study B's detectors)
    description: str
    files: tuple[str, ...]


@dataclass
class Section:
    """Everything about one dataset: its leaderboard tables, robustness tables, plot keys."""

    key: str
    title: str
    description: str
    tables: list[Table] = field(default_factory=list)
    robustness: list[Table] = field(default_factory=list)
    results: list[tuple[str, dict]] = field(default_factory=list)
    data_origins: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        """Whether any result of this dataset comes from the simulated corpus."""
        return any(o in ("simulated", "mixed") for o in self.data_origins)


def code_description(results) -> str:
    """'Code: commit abc1234, features v2.' from the results' provenance (each distinct value once)."""
    commits, features, dirty = set(), set(), False
    for r in results:
        prov = r.get("provenance") or {}
        commits.add((prov.get("git_commit") or "not a git checkout")[:12])
        features.add(str(prov.get("features_version", "?")))
        dirty = dirty or bool(prov.get("git_dirty"))
    if not commits:
        return ""
    return (f"Code: commit {', '.join(f'`{c}`' for c in sorted(commits))}"
            + (" (with uncommitted changes)" if dirty else "") + f"; features version {', '.join(sorted(features))}.")


def fmt_score(value, metric: str = "") -> str:
    """A score for a table: percentages with one decimal, rates with one decimal, '–' if missing."""
    if value is None:
        return "–"
    if metric in _NOT_PERCENT:
        return f"{value:.1f}"
    return f"{100.0 * value:.1f}"


def fmt_main(agg: dict, metric: str) -> str:
    """'87.3 ± 1.2 [85.0, 89.1]': mean ± std over seeds, bootstrap 95% interval of the mean."""
    text = fmt_score(agg.get("mean"), metric)
    if agg.get("std") is not None:
        text += f" ± {fmt_score(agg['std'], metric)}"
    if agg.get("ci_low") is not None and agg.get("ci_high") is not None:
        text += f" [{fmt_score(agg['ci_low'], metric)}, {fmt_score(agg['ci_high'], metric)}]"
    return text


def _seed_main(result: dict, metric: str) -> str:
    """`fmt_main` of a result's main score; no ± for one seed (a spread of one value is not 0)."""
    agg = result["main_score"]
    return fmt_main(agg if len(result["seeds"]) > 1 else {**agg, "std": None}, metric)


def fmt_params(n) -> str:
    if n is None:
        return "–"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 1_000:
        return f"{n / 1e3:.1f} k"
    return str(int(n))


def fmt_seconds(s) -> str:
    if s is None:
        return "–"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def fmt_ms(ms) -> str:
    return "–" if ms is None else (f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms")


def _mean(result: dict, metric: str):
    return (result["aggregate"].get(metric) or {}).get("mean")


def table_task(task: str) -> str:
    """The table a task's results go in: the two-stage model shares the 32-class table with the
    flat models (same labels, same test rows), which is the comparison study A lacks."""
    return "model" if task == "two_stage" else task


def _extra_metrics(task: str) -> tuple[str, ...]:
    if task == "detection":
        return ("recall", "roc_auc", "false_alarms_per_hour")
    if task in ("model", "two_stage"):
        return ("stage1_accuracy", "routing_error")
    return ()


def _resamples(result: dict, seeds=None):
    """The seed-mean main score on each bootstrap resample (over `seeds`, default all), or None."""
    import numpy as np

    rows = result["main_score"].get("resamples")
    if not rows:
        return None
    picked = [row for seed, row in zip(result["seeds"], rows) if seeds is None or seed in seeds]
    if not picked:
        return None
    values = np.array([[np.nan if v is None else v for v in row] for row in picked], dtype=np.float64)
    with warnings.catch_warnings():  # a resample undefined for every seed stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0)


def difference_interval(a: dict, b: dict, confidence: float, seeds=None) -> tuple[float, float] | None:
    """Bootstrap interval of (a's main score - b's) from their stored resamples, or None.

    Results scored on one test set share the resamples of the test clips, so this is the paired
    bootstrap; for two test sets (the two protocols) the resamples are independent draws and the
    interval is that of the difference of independent estimates.
    """
    from gunshot_bench.metrics import percentile_interval

    ra, rb = _resamples(a, seeds), _resamples(b, seeds)
    if ra is None or rb is None or ra.shape != rb.shape:
        return None
    lo, hi = percentile_interval(ra - rb, confidence)
    return None if lo is None else (lo, hi)


def _seed_mean(result: dict, seeds) -> float | None:
    name = result["main_score"]["name"]
    vals = [s["scores"].get(name) for s in result["per_seed"] if s["seed"] in seeds]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def inflation(grouped: dict, segment: dict) -> tuple[float, tuple[float, float] | None, list[int]] | None:
    """Segment-protocol score minus grouped-protocol score on the seeds both ran: (points, interval, seeds)."""
    seeds = sorted(set(grouped["seeds"]) & set(segment["seeds"]))
    if not seeds or grouped["main_score"]["name"] != segment["main_score"]["name"]:
        return None
    a, b = _seed_mean(segment, seeds), _seed_mean(grouped, seeds)
    if a is None or b is None:
        return None
    return a - b, difference_interval(segment, grouped, grouped["bootstrap"]["confidence"], seeds), seeds


def fmt_diff(point: float, interval, metric: str) -> str:
    """'+12.3 [4.0, 20.1]' in percentage points (or the metric's own unit)."""
    scale = 1.0 if metric in _NOT_PERCENT else 100.0
    text = f"{scale * point:+.1f}"
    if interval is not None:
        text += f" [{scale * interval[0]:+.1f}, {scale * interval[1]:+.1f}]"
    return text


def _protocol(r: dict) -> str:
    return r.get("protocol", "grouped")


def shared_ranks(ranked: list[dict], confidence: float) -> list[str]:
    """Competition ranks; entries whose paired-bootstrap difference from the leader includes zero
    share the leader's rank ("1=")."""
    if not ranked:
        return []
    leader = ranked[0]
    ties = [i > 0 and (iv := difference_interval(r, leader, confidence)) is not None and iv[0] <= 0.0 <= iv[1]
            for i, r in enumerate(ranked)]
    shared = any(ties)
    return ["1=" if i == 0 and shared else "1" if i == 0 else "1=" if ties[i] else str(i + 1)
            for i in range(len(ranked))]


NOT_ABOVE_MARK = "†"


def leaderboard_table(task: str, results: list[tuple[str, dict]]) -> Table:
    """One task's table under the grouped protocol, best main score first (ties by entry name),
    with shared ranks, the segment protocol's score and the inflation, then the reference rows."""
    board = [r for _, r in results]
    grouped = [r for r in board if _protocol(r) == "grouped"] or board
    main = grouped[0]["main_score"]["name"]
    confidence = grouped[0]["bootstrap"]["confidence"]
    extras = _extra_metrics(task)
    configs = sorted({r["eval_config"] for r in grouped})
    multi_config = len(configs) > 1
    order = lambda r: (-(r["main_score"]["mean"]), r["model"]["entry"], r["task"])  # noqa: E731
    entries = sorted((r for r in grouped if r["kind"] != "reference"), key=order)
    refs = sorted((r for r in grouped if r["kind"] == "reference"), key=order)
    segment = {(r["model"]["entry"], r["task"], r["kind"]): r for r in board if _protocol(r) == "segment"}
    has_segment = bool(segment)
    majority = next((r for r in refs if r["model"]["entry"] == "majority"), None)
    columns = ["#", "model"] + (["test rows"] if multi_config else [])
    columns += [f"{METRIC_TITLES.get(main, main)} (mean ± std [95% CI])"]
    columns += ["segment split", "inflation (points) [95% CI]"] if has_segment else []
    columns += ["macro-F1", "balanced acc."]
    columns += [METRIC_TITLES.get(m, m) for m in extras]
    columns += ["params", "training time", "inference / clip", "seeds", "test clips"]
    rows, row_entries = [], []
    ranks = shared_ranks(entries, confidence) + ["ref"] * len(refs)
    marked = 0
    for rank, r in zip(ranks, entries + refs):
        name = r["model"]["entry"] + (" (reference)" if r["kind"] == "reference" else "")
        if majority is not None and r is not majority and r["kind"] != "reference":
            iv = difference_interval(r, majority, confidence)
            if iv is not None and iv[0] <= 0.0:
                name += f" {NOT_ABOVE_MARK}"
                marked += 1
        row = [rank, name] + ([r["eval_config"]] if multi_config else [])
        own = r["main_score"]["name"]
        row += [_seed_main(r, own) + ("" if own == main else f" ({METRIC_TITLES.get(own, own)})")]
        if has_segment:
            seg = segment.get((r["model"]["entry"], r["task"], r["kind"]))
            infl = inflation(r, seg) if seg is not None else None
            row += [_seed_main(seg, own) + f" ({len(seg['seeds'])} seed{'s' * (len(seg['seeds']) > 1)})"
                    if seg is not None else "–",
                    fmt_diff(infl[0], infl[1], own) if infl is not None else "–"]
        row += [fmt_score(_mean(r, "macro_f1")), fmt_score(_mean(r, "balanced_accuracy"))]
        row += [fmt_score(_mean(r, m), m) for m in extras]
        row += [fmt_params(r["params"]), fmt_seconds(r["train_time_s"]),
                fmt_ms(r["inference_time_per_clip_ms"]), str(len(r["seeds"])), str(r["n_test"])]
        rows.append(tuple(row))
        row_entries.append(r["model"]["entry"])
    pct = f"{100 * confidence:g}%"
    caption = (f"Scores in %, on the test rows of `{', '.join(configs)}` under the grouped split (no recording "
               f"in two splits). Main score: {main}; ± is the standard deviation over training seeds, [ ] the "
               f"bootstrap {pct} interval of the seed mean over test clips. Training time is per seed.")
    caption += (f" Shared ranks: an entry ranked `1=` is not separated from the leader: the paired bootstrap "
                f"{pct} interval of its difference from the leader (same resamples of the test clips, seed "
                "means) includes zero.")
    if refs:
        caption += (" Reference rows (`ref`) train nothing: " + "; ".join(
            f"{r['model']['entry']}: {(r['model'].get('config') or {}).get('description', '')}" for r in refs)
            + "; they are not ranked.")
    if majority is not None:
        caption += (f" {NOT_ABOVE_MARK}: not above the majority reference (the paired bootstrap {pct} interval of "
                    f"the difference from the majority row does not lie above zero); {marked} such entr"
                    f"{'y' if marked == 1 else 'ies'}.")
    if has_segment:
        caption += (" Segment split: study A's protocol, the same rows split at random by 2 s segment (stratified "
                    "70/15/15), so segments of one recording sit in train and test. Inflation: segment minus "
                    f"grouped score on the seeds both ran, in percentage points, with the bootstrap {pct} "
                    "interval of the difference (independent test sets): what the leak adds.")
    return Table(TASK_TITLES.get(task, task), caption, tuple(columns), tuple(rows), slug=f"task-{task}", key=(task,),
                 row_entries=tuple(row_entries))


def _trained_on(r: dict) -> str:
    return str((r["model"].get("config") or {}).get("trained_on") or r["dataset"]["config"])


def robustness_tables(results: list[tuple[str, dict]], board: list[tuple[str, dict]] = ()) -> list[Table]:
    """One table per (task, condition): each model's score at every level, and the area.

    The score of the same entry on the clean test split (its leaderboard result in `board`)
    is shown first as the reference. A categorical condition (study B's test sets) gets a
    second table with recall, the figure study B reports beside accuracy.
    """
    clean = {(r["model"]["entry"], r["task"]): r for _, r in board}
    groups: dict[tuple[str, str], list[dict]] = {}
    for _, r in results:
        groups.setdefault((table_task(r["task"]), r["breakdown"]["by"]), []).append(r)
    tables = []
    for (task, by), rs in sorted(groups.items(), key=lambda kv: (_task_rank(kv[0][0]), kv[0][1])):
        main = rs[0]["main_score"]["name"]
        levels = sorted({lv["value"] for r in rs for lv in r["breakdown"]["levels"]}, key=_level_key)
        numeric = all(isinstance(v, (int, float)) for v in levels)
        metrics = [main] if numeric or task != "detection" else [main, "recall"]
        for metric in metrics:
            columns = ["model", "trained on"] + (["clean test"] if numeric else [])
            columns += [_level_name(by, v) for v in levels]
            columns += [f"area ({metric})"] if numeric else []
            rows, row_entries = [], []
            for r in sorted(rs, key=lambda r: (r["model"]["entry"], _trained_on(r))):
                at = {lv["value"]: lv["aggregate"].get(metric, {}) for lv in r["breakdown"]["levels"]}
                row = [r["model"]["entry"], _trained_on(r)]
                if numeric:
                    ref = clean.get((r["model"]["entry"], r["task"]))
                    ref_agg = (ref["aggregate"].get(metric) or {}) if ref else {}
                    row.append(fmt_main({k: ref_agg.get(k) for k in ("mean", "ci_low", "ci_high")}, metric)
                               if ref_agg.get("mean") is not None else "–")
                row += [fmt_main({k: at[v].get(k) for k in ("mean", "ci_low", "ci_high")}, metric)
                        if v in at and at[v] else "–" for v in levels]
                row += [fmt_score(r["breakdown"]["area"].get(metric), metric)] if numeric else []
                rows.append(tuple(row))
                row_entries.append(r["model"]["entry"])
            caption = (f"{METRIC_TITLES.get(metric, metric)} in % [bootstrap 95% interval] by {by}"
                       + (". Area: the normalised area under the curve (mean score over the range)."
                          if numeric else "."))
            suffix = "" if metric == main else f" ({METRIC_TITLES.get(metric, metric)})"
            tables.append(Table(f"{TASK_TITLES.get(task, task)}: score by {by}{suffix}", caption, tuple(columns),
                                tuple(rows), slug=slug(f"robustness-{task}-{by}" + ("" if metric == main else f"-{metric}")),
                                key=(task, by, metric), row_entries=tuple(row_entries)))
    return tables


def _task_rank(task: str) -> int:
    return TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER)


def _level_key(v):
    return (0, float(v), "") if isinstance(v, (int, float)) else (1, 0.0, str(v))


def _level_name(by: str, v) -> str:
    if isinstance(v, (int, float)):
        unit = {"db": "dB", "lufs": "LUFS"}.get(by.rsplit("_", 1)[-1])
        return f"{v:g} {unit}" if unit else f"{by}={v:g}"
    return str(v)


def entry_list(results: list[tuple[str, dict]]) -> list[Entry]:
    """Every entry of a dataset's results, by name, with its description (from the result files,
    which carry the entry's config) and its result files."""
    by_name: dict[str, list[tuple[str, dict]]] = {}
    for rel, r in results:
        by_name.setdefault(r["model"]["entry"], []).append((rel, r))
    out = []
    for name, items in sorted(by_name.items()):
        kinds = {r["kind"] for _, r in items}
        kind = "reference" if kinds == {"reference"} else "robustness only" if kinds == {"robustness"} else "trained"
        descriptions = sorted({(r["model"].get("config") or {}).get("description") or "" for _, r in items} - {""})
        out.append(Entry(name, kind, "; ".join(descriptions) or "(no description in the result files)",
                         tuple(sorted(rel for rel, _ in items))))
    return out


def build_sections(results: list[tuple[str, dict]]) -> list[Section]:
    """Group (relative path, result) pairs into one Section per dataset, sorted by key."""
    by_key: dict[str, list[tuple[str, dict]]] = {}
    for rel, r in results:
        by_key.setdefault(dataset_key(r), []).append((rel, r))
    sections = []
    for key in sorted(by_key):
        items = sorted(by_key[key], key=lambda pr: pr[0])
        ds = items[0][1]["dataset"]
        title = f"{ds['name']} {ds['version']}" + (f" (preset `{ds['preset']}`)" if ds.get("preset") else "")
        versions = sorted({r["package_version"] for _, r in items})
        description = (f"Dataset fingerprint `{ds['fingerprint']}`; gunshot-bench {', '.join(versions)}; "
                       f"{len(items)} result files. {code_description(r for _, r in items)}")
        origins = sorted({r.get("data_origin", "unknown") for _, r in items})
        section = Section(key, title, description, results=items, data_origins=tuple(origins),
                          entries=entry_list(items))
        board = [(p, r) for p, r in items if r["kind"] != "robustness"]
        for task in sorted({table_task(r["task"]) for _, r in board}, key=_task_rank):
            section.tables.append(leaderboard_table(task, [(p, r) for p, r in board if table_task(r["task"]) == task]))
        section.robustness = robustness_tables([(p, r) for p, r in items if r["kind"] == "robustness"],
                                               [(p, r) for p, r in board if r["kind"] == "leaderboard"
                                                and _protocol(r) == "grouped"])
        sections.append(section)
    return sections
