"""Engines: a job that fails never stops the others, and Ray gives the local engine's results.

The Ray test runs the `tiny` leaderboard (the cheap classical entries, one seed, both split
protocols and the reference rows) on a local Ray with 2 CPUs and on the local engine, and
requires every result file to be the same apart from timings, dates and the commit.
"""

from __future__ import annotations

import json
import sys

import pytest

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.evaluation.engine import LocalEngine, make_engine
from gunshot_bench.evaluation.jobs import Job
from gunshot_bench.protocols.leaderboard import run_leaderboard
from gunshot_bench.repro_slice import comparable
from gunshot_bench.sim import synthesize_corpus

from engine_jobs import KillItself, Square


def test_local_engine_collects_values_and_errors_by_label():
    jobs = [Square(2), Square(-1), Square(3)]
    assert all(isinstance(j, Job) for j in jobs)
    values, errors = LocalEngine(workers=1).run(jobs, progress=False)
    assert values == {"square/2": 4, "square/3": 9}
    assert errors == {"square/-1": "ValueError: negative: -1"}


def test_local_engine_survives_a_killed_worker():
    clean = [Square(2), Square(-1), Square(3), Square(4), Square(5)]
    with_killer = clean[:2] + [KillItself()] + clean[2:]
    expected, expected_errors = LocalEngine(workers=2).run(clean, progress=False, pool=True)
    values, errors = LocalEngine(workers=2).run(with_killer, progress=False, pool=True)
    # every other job still ran, in a fresh worker where needed, and gave what it gives without the killer
    assert values == expected == {"square/2": 4, "square/3": 9, "square/4": 16, "square/5": 25}
    assert errors == {**expected_errors, "killed": "worker died (signal 9, SIGKILL; likely out of memory)"}
    assert expected_errors == {"square/-1": "ValueError: negative: -1"}  # raised in a worker, reported alike


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


KILLER_MODEL = """
import os
import signal

from gunshot_bench.models import register
from gunshot_bench.models.base import BaseModel


@register("oom_victim")
class OomVictim(BaseModel):
    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X, y, X_val=None, y_val=None):
        os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does to a fit
"""


@pytest.fixture
def killer_plugin(tmp_path):
    from gunshot_bench import plugins
    from gunshot_bench.models import registry

    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "oom_victim.py").write_text(KILLER_MODEL)
    (folder / "oom_victim.toml").write_text('name = "oom_victim"\nmodel = "oom_victim"\ntasks = ["model"]\n'
                                            'description = "killed in fit"\n')
    plugins.load_plugin(str(folder / "oom_victim.py"))
    yield
    registry._REGISTRY.pop("oom_victim", None)
    sys.modules.pop("oom_victim", None)
    plugins._PLUGIN_DIRS.clear()
    plugins._LOADED_SPECS.clear()


def test_leaderboard_records_a_killed_training_and_scores_the_rest(tiny_data, tmp_path, killer_plugin):
    kwargs = dict(seeds=1, profile="small", preset="tiny", tasks=("model",), protocols=("grouped",),
                  references=False, progress=False, render=False)
    alone = run_leaderboard(tiny_data, models=["svm"], out_dir=tmp_path / "alone", engine=LocalEngine(workers=2),
                            **kwargs)
    board = run_leaderboard(tiny_data, models=["svm", "oom_victim"], out_dir=tmp_path / "board",
                            engine=LocalEngine(workers=2), **kwargs)
    assert [(f.part, f.error, f.entry, f.seed) for f in board.failed] == [
        ("oom_victim/model", "seed0: worker died (signal 9, SIGKILL; likely out of memory)", "oom_victim", 0)]
    assert not alone.failed and [p.name for p in board.written] == [p.name for p in alone.written]
    assert _results(tmp_path / "board") == _results(tmp_path / "alone")  # the svm, as if nothing had died


def _manifest(folder, rows: dict, sample_rate: int = 44100, segment_s: float = 2.0):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(
        {"rows": rows, "parameters": {"sample_rate": sample_rate, "segment_s": segment_s}}))
    return folder


def test_a_training_declares_memory_in_proportion_to_its_clips(tmp_path):
    from gunshot_bench.evaluation.training import (BASE_BYTES, FALLBACK_BYTES, TrainJob,
                                                   training_memory_bytes)

    small = _manifest(tmp_path / "small", {"detection": {"train": 1000, "validation": 200, "test": 200},
                                           "clean": {"train": 100, "validation": 20, "test": 20}})
    large = _manifest(tmp_path / "large", {"detection": {"train": 4000, "validation": 800, "test": 800}})
    grown = training_memory_bytes(large, "detection") - BASE_BYTES
    assert grown == pytest.approx(4 * (training_memory_bytes(small, "detection") - BASE_BYTES))
    # paper's detection config (6,320 + 1,910 clips of 2 s at 44.1 kHz): a cnn training peaked
    # at 9.1 GiB resident; the declaration must not fall below that, nor far above it
    paper = _manifest(tmp_path / "paper", {"detection": {"train": 6320, "validation": 1910}})
    assert 9.0 <= training_memory_bytes(paper, "detection") / 2**30 <= 11.0
    # the model task reads the clean config; the test split is not held while training
    assert training_memory_bytes(small, "model") < training_memory_bytes(small, "detection")
    assert training_memory_bytes(tmp_path / "nowhere", "model") == FALLBACK_BYTES
    assert training_memory_bytes(small, "category") == training_memory_bytes(small, "model")
    job = TrainJob(str(large), {"name": "svm", "model": "svm", "overrides": {}}, "detection", 0, str(tmp_path / "run"))
    assert job.resources.memory_bytes == training_memory_bytes(large, "detection")


def test_a_job_larger_than_every_ray_node_asks_for_the_largest_node():
    """Ray leaves a task that declares more memory than any node has waiting for ever; the Ray
    engine caps a declaration at the largest live node's memory (`ray.nodes()` entries)."""
    from gunshot_bench.evaluation.engine import largest_node_memory

    nodes = [{"Alive": True, "Resources": {"CPU": 2.0, "memory": 6e9}},
             {"Alive": True, "Resources": {"CPU": 8.0, "memory": 3e10}},
             {"Alive": False, "Resources": {"CPU": 64.0, "memory": 5e11}}]  # a dead node does not count
    assert largest_node_memory(nodes) == 30_000_000_000
    assert largest_node_memory([{"Alive": True, "Resources": {"CPU": 2.0}}]) is None
    assert largest_node_memory([]) is None
