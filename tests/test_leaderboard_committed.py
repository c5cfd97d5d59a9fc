"""The repository's committed results: every file validates, comes from the code in this history
(an ancestor commit, a clean tree, this features version), the reproduction slice is reproduced
exactly by retraining it, and LEADERBOARD.md / index.html are exactly what the results render to.

After a change that moves the numbers, regenerate the slice (on a committed tree) with
`python benchmarks/repro_slice.py`; see docs/leaderboard.md.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gunshot_bench import repro_slice
from gunshot_bench.features import FEATURES_VERSION
from gunshot_bench.leaderboard import render_leaderboard
from gunshot_bench.repro import REPO_ROOT, git_state
from gunshot_bench.results import load_results

BOARD = Path(__file__).resolve().parents[1] / "leaderboard"
REGENERATE = "regenerate with `python benchmarks/repro_slice.py` (docs/leaderboard.md)"


@pytest.fixture(scope="module")
def committed():
    files = [p for p in (BOARD / "results").rglob("*.json") if not p.name.startswith(".")]
    assert files, f"no committed results under {BOARD / 'results'}; {REGENERATE}"
    good, bad = load_results(BOARD / "results")
    assert [str(b) for b in bad] == [], (f"{len(bad)} committed results fail the schema (e.g. {bad[0]}): "
                                         f"stale results to remove, or {REGENERATE}" if bad else "")
    assert len(good) == len(files)
    return good


def test_every_committed_result_validates_and_has_this_features_version(committed):
    stale = [f"{p.relative_to(BOARD)}: features version {r['provenance']['features_version']}"
             for p, r in committed if r["provenance"]["features_version"] != FEATURES_VERSION]
    assert stale == [], f"results of other feature code (this code: version {FEATURES_VERSION}); {REGENERATE}"


def test_committed_results_come_from_committed_ancestors(committed):
    """No committed number without the code that makes it: the commit a result records is in
    this history, and its code had no uncommitted changes."""
    if git_state()[0] is None:
        pytest.skip("not a git checkout: the recorded commits cannot be checked")
    problems = []
    for path, r in committed:
        prov, rel = r["provenance"], path.relative_to(BOARD)
        if prov["git_commit"] is None:
            problems.append(f"{rel}: written outside a git checkout")
            continue
        if prov["git_dirty"]:
            problems.append(f"{rel}: written with uncommitted code changes")
        ancestor = subprocess.run(["git", "-C", str(REPO_ROOT), "merge-base", "--is-ancestor", prov["git_commit"],
                                   "HEAD"], capture_output=True, check=False)
        if ancestor.returncode != 0:
            problems.append(f"{rel}: commit {prov['git_commit'][:12]} is not an ancestor of HEAD")
    assert problems == [], f"{problems[:5]} ({len(problems)} in all); {REGENERATE}"


def test_reproduction_slice_is_reproduced_exactly(committed, tmp_path):
    """Retrain the committed slice from scratch: every committed slice file comes back identical
    apart from timings, dates and the commit (`repro_slice.comparable`)."""
    slice_files = {p.relative_to(BOARD / "results"): r for p, r in committed
                   if r["dataset"].get("preset") == repro_slice.PRESET}
    assert slice_files, f"no committed `{repro_slice.PRESET}` results (the reproduction slice); {REGENERATE}"
    run = repro_slice.build_slice(tmp_path / "work", tmp_path / "board", workers=1, render=False)
    assert run.failed == []
    fresh = {p.relative_to(tmp_path / "board" / "results"): p for p in run.written}
    missing = sorted(str(p) for p in slice_files if p not in fresh)
    assert missing == [], f"committed slice files the slice no longer writes: {missing}; {REGENERATE}"
    extra = sorted(str(p) for p in fresh if p not in slice_files)
    assert extra == [], f"slice files that are not committed: {extra}; {REGENERATE}"
    for rel, committed_result in sorted(slice_files.items()):
        again = json.loads(fresh[rel].read_text())
        assert repro_slice.comparable(again) == repro_slice.comparable(committed_result), \
            f"{rel} is not reproduced; {REGENERATE}"


def test_committed_leaderboard_is_what_the_results_render_to(tmp_path):
    out = render_leaderboard(BOARD / "results", tmp_path, draw_plots=False)
    assert out.markdown.read_text() == (BOARD / "LEADERBOARD.md").read_text()
    assert out.html.read_text() == (BOARD / "index.html").read_text()
    # every plot the committed page shows is committed too
    for section in out.sections:
        for table in section.tables:
            assert (BOARD / "plots" / section.key / f"scores__{table.slug}.png").is_file()
