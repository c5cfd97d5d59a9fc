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


def _described(result: dict) -> dict:
    """The entry's description, as the leaderboard writes it from the entry's file."""
    result["model"]["config"]["description"] = f"{result['model']['entry']}: a model | with <b>markup</b>"
    return result


def _write_board(root):
    for entry, p in (("svm", 0.6), ("audioresnet_flat", 0.85), ("lda", 0.5)):
        write_result(root / "results" / f"{entry}__category__clean.json",
                     _described(make_result(entry, "category", p, history=entry == "audioresnet_flat")))
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
    assert headings == ["### Category (5 classes)", "### Detection (gunshot vs. background)", "### Robustness",
                        "### Entries"]
    # contents: every section and table, linked to GitHub's anchor of its heading
    contents = md.split("## Contents\n")[1].split("\n## ")[0]
    assert "  - [Category (5 classes)](#category-5-classes)" in contents
    assert "  - [Detection (gunshot vs. background)](#detection-gunshot-vs-background)" in contents
    # each entry with the description its result files carry and links to those files
    entries = md.split("### Entries\n")[1]
    svm_entry = next(line for line in entries.splitlines() if line.startswith("| svm |"))
    assert svm_entry.split(" | ")[1] == "trained"
    assert svm_entry.split(" | ")[2] == "svm: a model / with &lt;b&gt;markup&lt;/b&gt;"  # inert, one cell
    assert "| gmm | trained | (no description in the result files) |" in entries
    assert "[svm__category__clean.json](results/svm__category__clean.json)" in svm_entry
    assert "[robustness__svm__category__crowd_noise.json](results/robustness__svm__category__crowd_noise.json)" in svm_entry
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
    assert '<table class="sortable">' in html and "audioresnet_flat" in html
    assert '<a class="zoom" href="plots/' in html  # plots open at full size
    assert 'title="svm: a model | with &lt;b&gt;markup&lt;/b&gt;"' in html  # the model cell shows the description


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

    from gunshot_bench.evaluation.conditions import curve_area

    levels, values = [20, -5, 0, 10, 5], [0.9, 0.2, 0.4, 0.8, 0.6]  # unsorted on purpose
    order = np.argsort(levels)
    want = np.trapezoid(np.array(values)[order], np.array(levels)[order]) / 25.0
    assert curve_area(levels, values) == pytest.approx(want)
    assert curve_area([0, 10], [0.5, 0.5]) == pytest.approx(0.5)  # a flat curve: its own level
    assert curve_area([0, 10, 20], [1.0, None, 1.0]) == pytest.approx(1.0)  # undefined levels skipped


# ------------------------------------------------------------- honest ranks (issue 11)


def _table_rows(md: str, heading: str) -> list[list[str]]:
    part = md.split(f"### {heading}\n")[1].split("\n### ")[0].split("\n## ")[0]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in part.splitlines()
            if line.startswith("| ") and not line.startswith("| #")]


def _reference(name: str, p: float, task: str = "category") -> dict:
    r = make_result(name, task, p, history=False)
    r["kind"], r["params"], r["model"]["config"] = "reference", None, {"reference": True, "description": f"{name} rule"}
    return r


def test_shared_ranks_references_and_the_majority_mark(tmp_path):
    results = {"close_a": 0.80, "close_b": 0.79, "weak": 0.05}
    for entry, p in results.items():
        write_result(tmp_path / "results" / f"{entry}__category__clean.json", make_result(entry, "category", p))
    for name, p in (("majority", 0.06), ("chance", 0.0)):
        write_result(tmp_path / "results" / f"reference__{name}__category__clean.json", _reference(name, p))
    md = render_leaderboard(tmp_path / "results", tmp_path, draw_plots=False).markdown.read_text()
    rows = _table_rows(md, "Category (5 classes)")
    ranks = {row[1]: row[0] for row in rows}
    # 0.80 vs 0.79 on 120 clips: the paired interval of the difference includes zero
    assert ranks["close_a"] == "1=" and ranks["close_b"] == "1="
    assert ranks["weak †"] == "3"  # not above the majority row: marked
    assert ranks["majority (reference)"] == "ref" and ranks["chance (reference)"] == "ref"
    assert [row[1] for row in rows][-2:] == ["chance (reference)", "majority (reference)"] or \
        [row[1] for row in rows][-2:] == ["majority (reference)", "chance (reference)"]
    assert "paired bootstrap" in md and "majority: majority rule" in md and "1 such entry" in md


def test_far_apart_entries_do_not_share_a_rank(tmp_path):
    for entry, p in (("good", 0.9), ("bad", 0.2)):
        write_result(tmp_path / "results" / f"{entry}__category__clean.json", make_result(entry, "category", p))
    md = render_leaderboard(tmp_path / "results", tmp_path, draw_plots=False).markdown.read_text()
    assert [(row[0], row[1]) for row in _table_rows(md, "Category (5 classes)")] == [("1", "good"), ("2", "bad")]


def test_segment_protocol_column_and_inflation(tmp_path):
    import numpy as np

    grouped = make_result("svm", "category", 0.5)
    segment = make_result("svm", "category", 0.9, seeds=(0,))
    segment["protocol"] = "segment"
    write_result(tmp_path / "results" / "svm__category__clean.json", grouped)
    write_result(tmp_path / "results" / "svm__category__clean__segment.json", segment)
    md = render_leaderboard(tmp_path / "results", tmp_path, draw_plots=False).markdown.read_text()
    (row,) = _table_rows(md, "Category (5 classes)")
    seed0 = grouped["per_seed"][0]["scores"]["accuracy"]
    want = 100 * (segment["per_seed"][0]["scores"]["accuracy"] - seed0)  # same seed (0) of both protocols
    assert row[3].endswith("(1 seed)") and row[4].startswith(f"{want:+.1f} [")
    lo, hi = (float(v) for v in row[4].split("[")[1].rstrip("]").split(", "))
    assert lo <= want <= hi and lo > 0  # 0.9 vs 0.5 on 120 clips: the leak inflation is clear
    diff = np.array(segment["main_score"]["resamples"][0]) - np.array(grouped["main_score"]["resamples"][0])
    assert lo == pytest.approx(100 * np.percentile(diff, 2.5), abs=0.051)


def test_simulated_data_banner(tmp_path):
    sim = make_result("svm", "category", 0.6)
    assert sim["data_origin"] == "simulated"  # a dataset with a simulator preset
    write_result(tmp_path / "sim" / "results" / "svm.json", sim)
    out = render_leaderboard(tmp_path / "sim" / "results", tmp_path / "sim", draw_plots=False)
    assert "Simulated data: the results in every section" in out.markdown.read_text()
    assert 'class="banner"' in out.html.read_text()
    real = {**sim, "data_origin": "real", "dataset": {**sim["dataset"], "preset": None}}
    write_result(tmp_path / "real" / "results" / "svm.json", real)
    out = render_leaderboard(tmp_path / "real" / "results", tmp_path / "real", draw_plots=False)
    assert "Simulated data" not in out.markdown.read_text() and 'class="banner"' not in out.html.read_text()


def test_registering_a_reference_is_one_line_and_it_is_scored(tmp_path, monkeypatch):
    """The coordinator registers the simulator's oracle with one line: REFERENCES[name] = Reference(fn, text)."""
    import numpy as np
    import pandas as pd

    from gunshot_bench import references
    from gunshot_bench.evaluate import TestSet
    from gunshot_bench.evaluation.scoring import Common
    from gunshot_bench.protocols.leaderboard import LeaderboardRun, score_references
    from gunshot_bench.metrics import BootstrapSettings
    from gunshot_bench.repro import code_provenance

    y_test = np.array([0, 1, 2, 3, 4] * 8)
    test_df = pd.DataFrame({"category": y_test})
    train_df = pd.DataFrame({"category": [1] * 30 + [0, 2, 3, 4] * 2})

    class Cache:
        def protocol_frame(self, config, split, protocol):
            return train_df

        def test_set(self, task, protocol="grouped"):
            return TestSet("clean", np.zeros((len(y_test), 1)), y_test, test_df)

    def oracle(train_df, y_train, test_df, n_classes, seed):
        return np.eye(n_classes, dtype=np.float32)[test_df["category"].to_numpy()]

    monkeypatch.setitem(references.REFERENCES, "oracle", references.Reference(oracle, "knows the labels"))
    outcome = LeaderboardRun()
    common = Common({"name": "d", "version": "0.1.0", "fingerprint": "f" * 16, "preset": "tiny"}, "simulated",
                    code_provenance(), BootstrapSettings(n_resamples=50))
    score_references(Cache(), "category", "grouped", [0, 1], tmp_path, common, False, outcome)
    scores = {p.name.split("__")[1]: json.loads(p.read_text()) for p in outcome.written}
    assert set(scores) == {"chance", "majority", "stratified", "oracle"}
    assert scores["oracle"]["main_score"]["mean"] == 1.0
    assert scores["majority"]["main_score"]["mean"] == pytest.approx(0.2)  # always "pistol" (1 of 5 labels)
    assert all(r["kind"] == "reference" for r in scores.values())
