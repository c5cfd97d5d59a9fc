"""Reproducibility: what a training run fixes, and which code a result came from.

- `deterministic(seed, threads)`: the block runs with a fixed intra-op thread count (torch and
  the BLAS/OpenMP pools), torch's deterministic algorithms, and the global generators of
  `random`, `numpy.random` and torch seeded from the run's seed. The thread count matters:
  a float sum split over 2 threads is added in another order than on 1, so a convolution's
  gradients, hence the trained weights, differed between `gunshot-bench train` (the caller's
  2 threads) and the leaderboard's workers (1 thread). The count now comes from the run's
  config (`TrainConfig.threads`), never from the caller.
- `code_provenance()`: package version, git commit and dirty flag (from a checkout), the
  versions of the libraries that compute the numbers, and `FEATURES_VERSION`.

Example:
    >>> with deterministic(0, threads=1):  # doctest: +SKIP
    ...     model.fit(X, y)
"""

from __future__ import annotations

import contextlib
import random
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from gunshot_bench import __version__
from gunshot_bench.features import FEATURES_VERSION
from gunshot_bench.rng import derive_rng

#: Libraries whose versions every result records (their numerics shape the scores).
LIBRARIES = ("torch", "numpy", "scikit-learn", "librosa", "hmmlearn", "scipy")
#: Paths of the checkout whose changes make a result "dirty" (code and entry configs; the
#: committed results and pages themselves do not change what the code computes). The leaderboard
#: entries are package data under gunshot_bench/baselines/, so the first path covers them.
CODE_PATHS = ("gunshot_bench", "pyproject.toml")
REPO_ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def deterministic(seed: int, threads: int = 1):
    """Fix threads, deterministic kernels and every library's global generators for one block.

    The package draws only from `derive_rng`; the global generators are seeded because
    libraries it calls draw from them (audiomentations uses `random` and `numpy.random`).
    Everything is restored on exit, so the caller's state is untouched.
    """
    import torch
    from threadpoolctl import threadpool_limits

    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    rng = derive_rng(seed, "global-generators")
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        torch.set_num_threads(int(threads))
        torch.use_deterministic_algorithms(True)
        random.seed(int(rng.integers(2**63)))
        np.random.seed(int(rng.integers(2**32)))  # noqa: NPY002 - seeding for third-party code
        with threadpool_limits(limits=int(threads)), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**63)))
            yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout the package runs from; (None, None) when not a checkout.

    Dirty means uncommitted changes (or untracked files) under `CODE_PATHS`.
    """
    if not (REPO_ROOT / ".git").exists():
        return None, None
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top.strip()).resolve() != REPO_ROOT:
        return None, None
    commit = (_git("rev-parse", "HEAD") or "").strip() or None
    status = _git("status", "--porcelain", "--", *CODE_PATHS)
    return commit, None if status is None else bool(status.strip())


def library_versions() -> dict[str, str | None]:
    """Installed versions of `LIBRARIES` (None for one that is missing)."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def code_provenance() -> dict:
    """What produced a result: {package_version, git_commit, git_dirty, features_version, libraries}."""
    commit, dirty = git_state()
    return {"package_version": __version__, "git_commit": commit, "git_dirty": dirty,
            "features_version": FEATURES_VERSION, "libraries": library_versions()}
