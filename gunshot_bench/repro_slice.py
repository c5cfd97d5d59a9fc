"""The reproduction slice: cheap deterministic entries on the `tiny` preset, committed and retrained by CI.

The committed results under `leaderboard/results/` whose dataset preset is `tiny` are this
slice. `tests/test_leaderboard_committed.py` regenerates it from scratch (corpus, build,
training, scoring) and requires every committed file of the slice to be reproduced exactly,
apart from timings, dates and the commit that wrote it (`comparable`). Regenerate the committed
slice with ONE command, from the repository root:

    python benchmarks/repro_slice.py

It writes `leaderboard/results/<tiny dataset key>/` and re-renders `LEADERBOARD.md`,
`index.html` and the plots. LDA is not in the slice: `tiny` has one training clip per firearm
model, and LDA needs more samples than classes.

Example:
    >>> run = build_slice("/tmp/slice-work", "/tmp/slice-board")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from pathlib import Path

PRESET = "tiny"
SEED = 0
ENTRIES = ("svm", "gmm", "hmm")
TASKS = ("model",)
SEEDS = 2
PROFILE = "small"
#: Fields that measure the machine or the moment, not the code: left out of the comparison.
VOLATILE = ("date", "wall_time_s", "train_time_s", "inference_time_per_clip_ms")
VOLATILE_PER_SEED = ("train_time_s", "inference_time_per_clip_ms")
VOLATILE_PROVENANCE = ("git_commit", "git_dirty")


def build_slice(work_dir: Path | str, board_dir: Path | str, *, workers: int | None = None,
                progress: bool = False, render: bool = True, overwrite: bool = True):
    """Synthesise the `tiny` corpus, build its dataset and score the slice into `board_dir`.

    Returns:
        the `protocols.leaderboard.LeaderboardRun` of the scoring.
    """
    from gunshot_bench.dataset.build import BuildConfig, build_dataset
    from gunshot_bench.protocols.leaderboard import run_leaderboard
    from gunshot_bench.sim import synthesize_corpus

    work_dir = Path(work_dir)
    corpus, data = work_dir / "corpus", work_dir / "data"
    synthesize_corpus(PRESET, corpus, seed=SEED, progress=progress, workers=1)
    build_dataset(BuildConfig(sources=(("sim", str(corpus)),), out_dir=str(data), seed=SEED, overwrite=True,
                              workers=1), progress=progress)
    return run_leaderboard(data, list(ENTRIES), SEEDS, board_dir, overwrite, profile=PROFILE, preset=PRESET,
                           runs_dir=work_dir / "runs", tasks=TASKS, progress=progress, render=render,
                           workers=workers)


def comparable(result: dict) -> dict:
    """`result` without the fields that may differ between two honest runs of the same code."""
    out = copy.deepcopy(result)
    for key in VOLATILE:
        out.pop(key, None)
    for seed in out.get("per_seed", []):
        for key in VOLATILE_PER_SEED:
            seed.pop(key, None)
    for key in VOLATILE_PROVENANCE:
        out.get("provenance", {}).pop(key, None)
    return out
