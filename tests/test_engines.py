"""Engines: a job that fails never stops the others, and Ray gives the local engine's results.

The Ray test runs the `tiny` leaderboard (the cheap classical entries, one seed, both split
protocols and the reference rows) on a local Ray with 2 CPUs and on the local engine, and
requires every result file to be the same apart from timings, dates and the commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.evaluation.engine import LocalEngine, make_engine
from gunshot_bench.evaluation.jobs import Job, Resources
from gunshot_bench.protocols.leaderboard import run_leaderboard
from gunshot_bench.repro_slice import comparable
from gunshot_bench.sim import synthesize_corpus


@dataclass(frozen=True)
class Square:
    x: int

    @property
    def label(self) -> str:
        return f"square/{self.x}"

    @property
    def resources(self) -> Resources:
        return Resources(cpus=1, memory_bytes=2**28)

    def run(self) -> int:
        if self.x < 0:
            raise ValueError(f"negative: {self.x}")
        return self.x * self.x


def test_local_engine_collects_values_and_errors_by_label():
    jobs = [Square(2), Square(-1), Square(3)]
    assert all(isinstance(j, Job) for j in jobs)
    values, errors = LocalEngine(workers=1).run(jobs, progress=False)
    assert values == {"square/2": 4, "square/3": 9}
    assert errors == {"square/-1": "ValueError: negative: -1"}


def test_unknown_engine_is_a_user_error():
    from gunshot_bench.errors import UserError

    with pytest.raises(UserError, match="unknown engine 'dask'"):
        make_engine("dask")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("engines")
    synthesize_corpus("tiny", root / "corpus", seed=0, progress=False, workers=1)
    build_dataset(BuildConfig(sources=(("sim", str(root / "corpus")),), out_dir=str(root / "data"), seed=0,
                              variants=(), workers=1), progress=False)
    return root / "data"


def _results(board) -> dict[str, dict]:
    return {p.name: comparable(json.loads(p.read_text())) for p in sorted((board / "results").rglob("*.json"))}


def test_ray_engine_gives_the_local_engines_results(tiny_data, tmp_path):
    pytest.importorskip("ray", reason="the Ray engine needs the 'ray' extra (pip install -e '.[ray]')")
    from gunshot_bench.evaluation.engine import RayEngine

    kwargs = dict(models=["svm", "gmm"], seeds=1, profile="small", preset="tiny", tasks=("model",),
                  progress=False, render=False)
    local = run_leaderboard(tiny_data, out_dir=tmp_path / "local", engine=LocalEngine(workers=1), **kwargs)
    with RayEngine(num_cpus=2) as engine:
        ray_run = run_leaderboard(tiny_data, out_dir=tmp_path / "ray", engine=engine, **kwargs)
    assert not local.failed and not ray_run.failed, (local.failed, ray_run.failed)
    expected, got = _results(tmp_path / "local"), _results(tmp_path / "ray")
    # 2 entries x 2 split protocols, plus the reference rows of the task under both protocols
    assert len([n for n in expected if not n.startswith("reference__")]) == 4
    assert any(n.startswith("reference__") for n in expected)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    # the trained runs were Ray's own (not the local engine's, which sit in another folder)
    assert list((tmp_path / "ray" / "runs").rglob("config.json"))
