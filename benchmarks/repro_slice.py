"""Regenerate the committed reproduction slice (see `gunshot_bench.repro_slice`).

Run from the repository root, on a committed tree (results record the commit and refuse a
dirty one in the committed-results test):

    python benchmarks/repro_slice.py [--work DIR]

Writes leaderboard/results/<tiny dataset key>/ and re-renders LEADERBOARD.md, index.html and
the plots from every committed result.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, whatever is pip-installed

from gunshot_bench import repro_slice  # noqa: E402
from gunshot_bench.repro import git_state  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None, help="scratch folder for corpus, dataset and runs (default: a temporary one)")
    parser.add_argument("--board", default=str(ROOT / "leaderboard"), help="leaderboard folder (default: leaderboard/)")
    args = parser.parse_args(argv)
    commit, dirty = git_state()
    if dirty:
        print("warning: the code has uncommitted changes; the committed-results test will refuse these results",
              file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="repro-slice-") as tmp:
        run = repro_slice.build_slice(args.work or tmp, args.board, progress=True)
    for failure in run.failed:
        print(f"failed: {failure}", file=sys.stderr)
    print(f"{len(run.written)} results written at commit {commit} -> {Path(args.board) / 'results'}")
    return 1 if run.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
