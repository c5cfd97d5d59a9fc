"""Rendering the leaderboard: tables, page and plots from result files; deterministic; bad files left out."""

from __future__ import annotations

import copy
import json

import pytest

from test_results import make_result

from gunshot_bench.leaderboard import render_leaderboard
from gunshot_bench.leaderboard.tables import fmt_main
from gunshot_bench.results import write_result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _robustness_result(entry: str, slope: float) -> dict:
    r = make_result(entry, "category", 0.8, history=False)
    r["kind"] = "robustness"
    r["eval_config"] = "crowd_noise"
    levels = []
    for snr_db in (-5, 0, 5, 10, 20):
        acc = min(0.95, 0.5 + slope * (snr_db + 5))
        levels.append({"value": snr_db, "n_test": 40,
                       "aggregate": {"accuracy": {"mean": acc, "std": 0.01, "ci_low": acc - 0.05, "ci_high": acc + 0.04}}})
    r["breakdown"] = {"by": "snr_db", "levels": levels, "area": {"accuracy": 0.7}}
    return r


def _write_board(root):
    for entry, p in (("svm", 0.6), ("audioresnet_flat", 0.85), ("lda", 0.5)):
        write_result(root / "results" / f"{entry}__category__clean.json",
                     make_result(entry, "category", p, history=entry == "audioresnet_flat"))
    for entry, p in (("cnn", 0.8), ("gmm", 0.4)):
        write_result(root / "results" / f"{entry}__detection__detection.json",
                     make_result(entry, "detection", p, history=False))
    for entry, slope in (("cnn", 0.02), ("svm", 0.01)):
        write_result(root / "results" / f"robustness__{entry}__category__crowd_noise.json",
                     _robustness_result(entry, slope))


def test_render_writes_tables_page_and_plots(tmp_path):
    _write_board(tmp_path)
    out = render_leaderboard(tmp_path / "results", tmp_path)
    assert out.bad == [] and out.n_results == 7
    md = out.markdown.read_text()
    # one table per task, best main score first
    headings = [line for line in md.splitlines() if line.startswith("### ")]
    assert headings == ["### Category (5 classes)", "### Detection (gunshot vs. background)", "### Robustness"]
    cat = md.split("### Category (5 classes)\n")[1].split("###")[0]
    rows = [line for line in cat.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[1] for row in rows] == ["audioresnet_flat", "svm", "lda"]
    best = json.loads((tmp_path / "results" / "audioresnet_flat__category__clean.json").read_text())
    assert fmt_main(best["main_score"], "accuracy") in rows[0]
    assert f"{100 * best['aggregate']['macro_f1']['mean']:.1f}" in rows[0]
    # robustness table: one column per SNR level, then the area
    assert "| model | trained on | clean test | -5 dB | 0 dB | 5 dB | 10 dB | 20 dB | area (accuracy) |" in md
    svm_clean = json.loads((tmp_path / "results" / "svm__category__clean.json").read_text())["aggregate"]["accuracy"]
    svm_row = next(line for line in md.splitlines() if line.startswith("| svm | clean |"))
    assert svm_row.split(" | ")[2] == fmt_main({**svm_clean, "std": None}, "accuracy")  # the clean reference
    # every plot the page shows exists and is a PNG
    html = out.html.read_text()
    srcs = sorted(set(part.split('"')[0] for part in html.split('src="')[1:]))
    assert srcs and all((tmp_path / s).read_bytes().startswith(PNG_MAGIC) for s in srcs)
    kinds = {p.name.split("__")[0] for p in out.plots}
    assert {"scores", "confusion", "curves", "robustness-category-snr_db.png"} <= kinds
    assert "<table>" in html and "audioresnet_flat" in html


def test_render_is_deterministic(tmp_path):
    write_result(tmp_path / "a" / "results" / "svm.json", make_result("svm", "category", 0.6))
    write_result(tmp_path / "a" / "results" / "cnn.json", make_result("cnn", "category", 0.7))
    write_result(tmp_path / "a" / "results" / "rob.json", _robustness_result("cnn", 0.02))
    a = render_leaderboard(tmp_path / "a" / "results", tmp_path / "a")
    b = render_leaderboard(tmp_path / "a" / "results", tmp_path / "b")
    assert a.markdown.read_text() == b.markdown.read_text()
    assert a.html.read_text() == b.html.read_text()
    for pa, pb in zip(sorted(a.plots), sorted(b.plots)):
        assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_bad_result_is_named_and_left_out(tmp_path, caplog):
    _write_board(tmp_path)
    bad = make_result("hmm", "category", 0.9)
    bad["aggregate"]["accuracy"]["mean"] = "ninety"
    (tmp_path / "results" / "hmm__category__clean.json").write_text(json.dumps(bad))
    (tmp_path / "results" / "truncated.json").write_text('{"schema_version": 1,')
    out = render_leaderboard(tmp_path / "results", tmp_path, draw_plots=False)
    md = out.markdown.read_text()
    assert out.n_results == 7 and len(out.bad) == 2
    left_out = md.split("## Result files left out")[1]
    assert "`results/hmm__category__clean.json`: aggregate.accuracy.mean: 'ninety' is not of type" in left_out
    assert "`results/truncated.json`: not valid JSON" in left_out
    assert "| hmm |" not in md.split("## Result files left out")[0]
    assert "hmm__category__clean.json" in caplog.text


def test_empty_results_render_a_page(tmp_path):
    out = render_leaderboard(tmp_path / "missing", tmp_path)
    assert "No results yet." in out.markdown.read_text()
    assert out.html.read_text().startswith("<!DOCTYPE html>")


def test_two_datasets_get_separate_sections(tmp_path):
    _write_board(tmp_path)
    other = copy.deepcopy(make_result("svm", "category", 0.3))
    other["dataset"].update(preset="paper", fingerprint="fff999")
    write_result(tmp_path / "results" / "paper" / "svm__category__clean.json", other)
    md = render_leaderboard(tmp_path / "results", tmp_path, draw_plots=False).markdown.read_text()
    assert md.index("(preset `paper`)") < md.index("(preset `tiny`)")  # sections sorted by key
    assert md.count("\n### Category (5 classes)\n") == 2


def test_curve_area_is_the_mean_score_over_the_level_range():
    import numpy as np

    from gunshot_bench.robustness import curve_area

    levels, values = [20, -5, 0, 10, 5], [0.9, 0.2, 0.4, 0.8, 0.6]  # unsorted on purpose
    order = np.argsort(levels)
    want = np.trapezoid(np.array(values)[order], np.array(levels)[order]) / 25.0
    assert curve_area(levels, values) == pytest.approx(want)
    assert curve_area([0, 10], [0.5, 0.5]) == pytest.approx(0.5)  # a flat curve: its own level
    assert curve_area([0, 10, 20], [1.0, None, 1.0]) == pytest.approx(1.0)  # undefined levels skipped
