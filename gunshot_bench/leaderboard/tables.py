"""The leaderboard's tables: results grouped by dataset and task, as rows of formatted cells.

Both renderers (Markdown and HTML) draw from `build_sections`, so the page and
`LEADERBOARD.md` always show the same numbers. Everything here is a pure function of the
result dicts: same results, same text, byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


@dataclass
class Section:
    """Everything about one dataset: its leaderboard tables, robustness tables, plot keys."""

    key: str
    title: str
    description: str
    tables: list[Table] = field(default_factory=list)
    robustness: list[Table] = field(default_factory=list)
    results: list[tuple[str, dict]] = field(default_factory=list)


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


def leaderboard_table(task: str, results: list[tuple[str, dict]]) -> Table:
    """One task's table, best main score first (ties by entry name)."""
    main = results[0][1]["main_score"]["name"]
    extras = _extra_metrics(task)
    configs = sorted({r["eval_config"] for _, r in results})
    multi_config = len(configs) > 1
    ranked = sorted(results, key=lambda pr: (-(pr[1]["main_score"]["mean"]), pr[1]["model"]["entry"], pr[0]))
    columns = ["#", "model"] + (["test rows"] if multi_config else [])
    columns += [f"{METRIC_TITLES.get(main, main)} (mean ± std [95% CI])", "macro-F1", "balanced acc."]
    columns += [METRIC_TITLES.get(m, m) for m in extras]
    columns += ["params", "training time", "inference / clip", "seeds", "test clips"]
    rows = []
    for rank, (_, r) in enumerate(ranked, start=1):
        row = [str(rank), r["model"]["entry"]] + ([r["eval_config"]] if multi_config else [])
        own = r["main_score"]["name"]
        row += [fmt_main(r["main_score"], own) + ("" if own == main else f" ({METRIC_TITLES.get(own, own)})"),
                fmt_score(_mean(r, "macro_f1")),
                fmt_score(_mean(r, "balanced_accuracy"))]
        row += [fmt_score(_mean(r, m), m) for m in extras]
        row += [fmt_params(r["params"]), fmt_seconds(r["train_time_s"]),
                fmt_ms(r["inference_time_per_clip_ms"]), str(len(r["seeds"])), str(r["n_test"])]
        rows.append(tuple(row))
    caption = (f"Scores in %, on the test rows of `{', '.join(configs)}`. Main score: {main}; "
               "± is the standard deviation over training seeds, [ ] the bootstrap 95% interval of the "
               "seed mean over test clips. Training time is per seed.")
    return Table(TASK_TITLES.get(task, task), caption, tuple(columns), tuple(rows), slug=f"task-{task}", key=(task,))


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
            rows = []
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
            caption = (f"{METRIC_TITLES.get(metric, metric)} in % [bootstrap 95% interval] by {by}"
                       + (". Area: the normalised area under the curve (mean score over the range)."
                          if numeric else "."))
            suffix = "" if metric == main else f" ({METRIC_TITLES.get(metric, metric)})"
            tables.append(Table(f"{TASK_TITLES.get(task, task)}: score by {by}{suffix}", caption, tuple(columns),
                                tuple(rows), slug=slug(f"robustness-{task}-{by}" + ("" if metric == main else f"-{metric}")),
                                key=(task, by, metric)))
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
                       f"{len(items)} result files.")
        section = Section(key, title, description, results=items)
        board = [(p, r) for p, r in items if r["kind"] != "robustness"]
        for task in sorted({table_task(r["task"]) for _, r in board}, key=_task_rank):
            section.tables.append(leaderboard_table(task, [(p, r) for p, r in board if table_task(r["task"]) == task]))
        section.robustness = robustness_tables([(p, r) for p, r in items if r["kind"] == "robustness"],
                                               [(p, r) for p, r in board if r["kind"] == "leaderboard"])
        sections.append(section)
    return sections
