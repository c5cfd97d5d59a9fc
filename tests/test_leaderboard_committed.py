"""The repository's committed results: every file validates, and LEADERBOARD.md / index.html are
exactly what those results render to (so nobody edits the table by hand)."""

from __future__ import annotations

from pathlib import Path

from gunshot_bench.leaderboard import render_leaderboard
from gunshot_bench.results import load_results

BOARD = Path(__file__).resolve().parents[1] / "leaderboard"


def test_every_committed_result_validates():
    files = [p for p in (BOARD / "results").rglob("*.json") if not p.name.startswith(".")]
    assert files, f"no committed results under {BOARD / 'results'}"
    good, bad = load_results(BOARD / "results")
    assert [str(b) for b in bad] == []
    assert len(good) == len(files)
    presets = {r["dataset"].get("preset") for _, r in good}
    assert {"small", "paper"} <= presets  # issue 6: both presets committed


def test_committed_leaderboard_is_what_the_results_render_to(tmp_path):
    out = render_leaderboard(BOARD / "results", tmp_path, draw_plots=False)
    assert out.markdown.read_text() == (BOARD / "LEADERBOARD.md").read_text()
    assert out.html.read_text() == (BOARD / "index.html").read_text()
    # every plot the committed page shows is committed too
    for section in out.sections:
        for table in section.tables:
            assert (BOARD / "plots" / section.key / f"scores__{table.slug}.png").is_file()
