"""PNG plots of the leaderboard: confusion matrices, training curves, scores, robustness curves.

Figures are built with `matplotlib.figure.Figure` directly (the Agg canvas, no pyplot and no
global backend state), so plotting works headless and never opens a window. Every plot is a
function of result dicts only: the committed results re-render the committed plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gunshot_bench.leaderboard.tables import METRIC_TITLES, TASK_TITLES, _level_key

_PNG_META = {"Software": None}  # no matplotlib version stamp: same results, same bytes


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata=_PNG_META)
    return path


def plot_confusion(result: dict, path: Path) -> Path:
    """Row-normalised confusion matrix summed over seeds (rows: true class; only classes with
    test clips or predictions are shown, so a 32-class matrix stays readable)."""
    cms = [np.asarray(s["confusion_matrix"], dtype=float) for s in result["per_seed"] if s.get("confusion_matrix")]
    cm = np.sum(cms, axis=0)
    keep = np.flatnonzero((cm.sum(axis=0) + cm.sum(axis=1)) > 0)
    cm = cm[np.ix_(keep, keep)]
    names = [result["label_names"][i] for i in keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    size = 2.5 + 0.32 * len(names)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(names) <= 12:
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_title(f"{result['model']['entry']} - {result['task']} ({len(result['per_seed'])} seeds)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def has_history(result: dict) -> bool:
    return any(s.get("history") for s in result["per_seed"])


def plot_curves(result: dict, path: Path) -> Path:
    """Train and validation curves of every seed: losses on the left, accuracies on the right."""
    fig = Figure(figsize=(9, 3.5))
    axes = fig.subplots(1, 2)
    for k, seed in enumerate(s for s in result["per_seed"] if s.get("history")):
        colour = f"C{k}"
        stages = sorted({key.rsplit("/", 1)[0] for key in seed["history"] if "/" in key})
        for key, values in sorted(seed["history"].items()):
            metric = key.rsplit("/", 1)[-1]  # keys are "metric" or "stage/metric"
            ax = axes[0] if "loss" in metric else axes[1] if "acc" in metric else None
            if ax is None or not values:
                continue
            y = np.array([np.nan if v is None else v for v in values], dtype=float)
            style = "--" if metric.startswith("train") else "-"
            stage = key.rsplit("/", 1)[0] if "/" in key else ""
            marker = "os^vDx*+<>P"[stages.index(stage) % 11] if len(stages) > 1 else None
            ax.plot(np.arange(1, len(y) + 1), y, style, color=colour, marker=marker, markersize=3,
                    label=f"seed {seed['seed']} {key}")
    for ax, title in zip(axes, ("loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        if ax.lines and len(ax.lines) <= 12:
            ax.legend(fontsize=6)
    fig.suptitle(f"{result['model']['entry']} - {result['task']}: training (dashed) and validation (solid)",
                 fontsize=9)
    fig.tight_layout()
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
    ax.barh(range(len(rs)), means, color="C0", alpha=0.8)
    ax.errorbar(means, range(len(rs)), xerr=[means - lo, hi - means], fmt="none", ecolor="black", capsize=3)
    labels = [r["model"]["entry"] + ("" if r["eval_config"] in ("clean", "detection") else f" ({r['eval_config']})")
              for r in rs]
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
    ax.set_xlabel(by)
    ax.set_ylabel(f"{METRIC_TITLES.get(metric, metric)} (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{TASK_TITLES.get(task, task)}: {METRIC_TITLES.get(metric, metric)} by {by}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
