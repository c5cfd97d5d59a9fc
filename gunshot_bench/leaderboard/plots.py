"""PNG plots of the leaderboard: confusion matrices, training curves, scores, robustness curves.

Figures are built with `matplotlib.figure.Figure` directly (the Agg canvas, no pyplot and no
global backend state), so plotting works headless and never opens a window. Every plot is a
function of result dicts only: the committed results re-render the committed plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gunshot_bench.leaderboard.tables import METRIC_TITLES, TASK_TITLES, _level_key

_PNG_META = {"Software": None}  # no matplotlib version stamp: same results, same bytes


#: Axis titles of the robustness conditions, with their units.
CONDITION_TITLES = {
    "snr_db": "signal-to-noise ratio (dB)",
    "gain_db": "gain applied (dB)",
    "target_lufs": "loudness target (LUFS, ITU-R BS.1770)",
    "test_set": "test set",
}


def condition_title(by: str) -> str:
    """'snr_db' -> 'signal-to-noise ratio (dB)'; an unknown name keeps its unit suffix as the unit."""
    if by in CONDITION_TITLES:
        return CONDITION_TITLES[by]
    name, _, unit = by.rpartition("_")
    units = {"db": "dB", "lufs": "LUFS", "s": "s", "hz": "Hz"}
    return f"{name.replace('_', ' ')} ({units[unit]})" if name and unit in units else by.replace("_", " ")


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata=_PNG_META)
    return path


def _category_breaks(names: list[str]) -> list[float]:
    """Positions between neighbouring classes of different categories (for the 32-model matrix)."""
    from gunshot_bench import taxonomy

    cats = []
    for name in names:
        try:
            cats.append(taxonomy.get_model(name).category)
        except (KeyError, ValueError):
            return []  # not firearm models (categories, detection): no blocks to mark
    return [i + 0.5 for i in range(len(cats) - 1) if cats[i] != cats[i + 1]]


def plot_confusion(result: dict, path: Path) -> Path:
    """Row-normalised confusion matrix summed over seeds (rows: true class; only classes with
    test clips or predictions are shown, so a 32-class matrix stays readable). Firearm models are
    grouped by category, with a line between categories, so a confusion within a category (a
    pistol for another pistol) reads apart from one across categories."""
    cms = [np.asarray(s["confusion_matrix"], dtype=float) for s in result["per_seed"] if s.get("confusion_matrix")]
    cm = np.sum(cms, axis=0)
    keep = np.flatnonzero((cm.sum(axis=0) + cm.sum(axis=1)) > 0)
    cm = cm[np.ix_(keep, keep)]
    names = [result["label_names"][i] for i in keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    size = max(4.5, 2.5 + 0.32 * len(names))  # inches; room for the title and labels of a 2-class matrix
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for b in _category_breaks(names):
        ax.axhline(b, color="0.4", linewidth=0.8)
        ax.axvline(b, color="0.4", linewidth=0.8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if len(names) <= 12:
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    n_clips = int(cm.sum() / max(len(cms), 1))
    ax.set_title(f"{result['model']['entry']}: {TASK_TITLES.get(result['task'], result['task'])}\n"
                 f"{len(cms)} seeds, {n_clips} test clips each", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def has_history(result: dict) -> bool:
    return any(s.get("history") for s in result["per_seed"])


def _stages(result: dict) -> list[str]:
    """The trained networks of a result's history, in the order they train ("" for a single network).

    History keys are "metric" or "network/metric"; a two-stage model's networks are "category"
    and then one per category.
    """
    found = {key.rsplit("/", 1)[0] if "/" in key else "" for s in result["per_seed"] for key in (s.get("history") or {})}
    return sorted(found, key=lambda name: (name != "category", name))


def plot_curves(result: dict, path: Path) -> Path:
    """Train and validation curves: one row per trained network (a two-stage model has six),
    loss on the left, accuracy on the right; colour = seed, dashed = training, solid = validation."""
    seeds = [s for s in result["per_seed"] if s.get("history")]
    stages = _stages(result)
    fig = Figure(figsize=(9, 0.8 + 2.4 * len(stages)))
    axes = np.atleast_2d(fig.subplots(len(stages), 2, squeeze=False))
    for row, stage in enumerate(stages):
        prefix = f"{stage}/" if stage else ""
        for k, seed in enumerate(seeds):
            for col, metric in enumerate(("loss", "accuracy")):
                for split, style in (("train", "--"), ("val", "-")):
                    values = seed["history"].get(f"{prefix}{split}_{metric}") or []
                    y = np.array([np.nan if v is None else v for v in values], dtype=float)
                    if metric == "accuracy":
                        y = y * 100
                    axes[row, col].plot(np.arange(1, len(y) + 1), y, style, color=f"C{k}", marker="o", markersize=3)
        for col, label in enumerate(("cross-entropy loss (nats)", "accuracy (%)")):
            ax = axes[row, col]
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
            ax.set_ylabel(label, fontsize=8)
            ax.grid(alpha=0.3)
            ax.set_title(f"{stage + ' network: ' if len(stages) > 1 else ''}{label.split(' (')[0]}", fontsize=9)
            if col == 1:
                ax.set_ylim(0, 100)
        for ax in axes[row]:
            ax.set_xlabel("epoch", fontsize=8)
    # One legend for the figure, however many networks and seeds: colours are seeds, styles splits.
    handles = [Line2D([], [], color=f"C{k}", marker="o", markersize=3, label=f"seed {s['seed']}")
               for k, s in enumerate(seeds)]
    handles += [Line2D([], [], color="0.3", linestyle="--", label="training split"),
                Line2D([], [], color="0.3", linestyle="-", label="validation split")]
    height = fig.get_figheight()  # title, then the legend, then the panels (positions in inches from the top)
    fig.suptitle(f"{result['model']['entry']}: {TASK_TITLES.get(result['task'], result['task'])}", fontsize=10,
                 y=1.0 - 0.08 / height, va="top")
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1.0 - 0.3 / height))
    fig.tight_layout(rect=(0, 0, 1, 1.0 - 0.6 / height))
    return _save(fig, path)


def plot_scores(task: str, results: list[dict], path: Path) -> Path:
    """The main score of each model with its bootstrap interval, best at the top."""
    metric = results[0]["main_score"]["name"]
    rs = sorted(results, key=lambda r: (r["main_score"]["mean"], r["model"]["entry"]))
    means = np.array([r["main_score"]["mean"] for r in rs]) * 100
    lo = np.array([r["main_score"]["ci_low"] if r["main_score"]["ci_low"] is not None else r["main_score"]["mean"]
                   for r in rs]) * 100
    hi = np.array([r["main_score"]["ci_high"] if r["main_score"]["ci_high"] is not None else r["main_score"]["mean"]
                   for r in rs]) * 100
    fig = Figure(figsize=(7, 1.2 + 0.4 * len(rs)))
    ax = fig.add_subplot()
    # reference rows (train nothing: chance, majority, oracle...) in grey, so they read as yardsticks
    is_ref = [r["kind"] == "reference" for r in rs]
    ax.barh(range(len(rs)), means, color=["0.65" if ref else "C0" for ref in is_ref], alpha=0.8)
    ax.errorbar(means, range(len(rs)), xerr=[means - lo, hi - means], fmt="none", ecolor="black", capsize=3)
    labels = [r["model"]["entry"] + (" (reference)" if ref else "")
              + ("" if r["eval_config"] in ("clean", "detection") else f" ({r['eval_config']})")
              for r, ref in zip(rs, is_ref)]
    ax.set_yticks(range(len(rs)), labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"{METRIC_TITLES.get(metric, metric)} (%), bootstrap 95% interval")
    ax.set_title(TASK_TITLES.get(task, task), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_robustness(task: str, by: str, results: list[dict], path: Path, metric: str | None = None) -> Path:
    """Score against the condition (SNR, gain, loudness) per model with the interval as a band;
    for a categorical condition (test set), grouped bars."""
    metric = metric or results[0]["main_score"]["name"]
    levels = sorted({lv["value"] for r in results for lv in r["breakdown"]["levels"]}, key=_level_key)
    numeric = all(isinstance(v, (int, float)) for v in levels)
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ordered = sorted(results, key=lambda r: (r["model"]["entry"], r["dataset"]["config"]))
    width = 0.8 / max(len(ordered), 1)
    for k, r in enumerate(ordered):
        pts = sorted(((lv["value"], lv["aggregate"].get(metric, {})) for lv in r["breakdown"]["levels"]),
                     key=lambda p: _level_key(p[0]))
        mean = np.array([np.nan if a.get("mean") is None else a["mean"] for _, a in pts]) * 100
        lo = np.array([np.nan if a.get("ci_low") is None else a["ci_low"] for _, a in pts]) * 100
        hi = np.array([np.nan if a.get("ci_high") is None else a["ci_high"] for _, a in pts]) * 100
        label = r["model"]["entry"]
        if numeric:
            x = np.array([v for v, _ in pts], dtype=float)
            ax.plot(x, mean, "o-", color=f"C{k}", label=label)
            ax.fill_between(x, lo, hi, color=f"C{k}", alpha=0.15)
        else:
            x = np.array([levels.index(v) for v, _ in pts]) + (k - (len(ordered) - 1) / 2) * width
            ax.bar(x, mean, width, color=f"C{k}", label=label,
                   yerr=[np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)], capsize=2)
    if not numeric:
        ax.set_xticks(range(len(levels)), [str(v) for v in levels])
    ax.set_xlabel(condition_title(by))
    ax.set_ylabel(f"{METRIC_TITLES.get(metric, metric)} (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{TASK_TITLES.get(task, task)}: {METRIC_TITLES.get(metric, metric)} by {condition_title(by).split(' (')[0]}",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
