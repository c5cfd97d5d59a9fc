"""The build's Ray engine (issue 14 part 3): the same dataset as the local engine, byte for byte.

Runs a local Ray of 2 CPUs; skipped when Ray (the `ray` extra) is not installed. Ray's
raylet must register within its fixed 30 s, which a heavily loaded machine can miss.
"""

import json
from pathlib import Path

import pytest

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from tests.test_build_index import dup_corpus  # noqa: F401  (the fixture)

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")


def _files(root: Path) -> dict[str, bytes | dict]:
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        out[rel] = path.read_bytes()
        if rel == "build_report.json":  # equal apart from the memory figures, which differ by engine and run
            out[rel] = json.loads(out[rel])
            out[rel].pop("memory")
    return out


@pytest.fixture
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.mark.slow
def test_ray_build_is_byte_identical_to_the_local_build(dup_corpus, tmp_path, local_ray):  # noqa: F811
    common = dict(sources=(("folder", str(dup_corpus)),), seed=3, variants=("energy",), workers=2)
    build_dataset(BuildConfig(out_dir=str(tmp_path / "local"), **common), progress=False)
    summary = build_dataset(BuildConfig(out_dir=str(tmp_path / "ray"), engine="ray", **common), progress=False)
    local, remote = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert sum(sum(s.values()) for s in summary.segments.values()) > 0
    assert any(rel.startswith("data/energy/") for rel in remote)
    assert local.keys() == remote.keys()
    assert [rel for rel in local if local[rel] != remote[rel]] == []


def test_unknown_engine_is_refused_in_one_line(dup_corpus, tmp_path):  # noqa: F811
    from gunshot_bench.errors import UserError

    # a user error (one line in the CLI, exit code 2), not a plain ValueError that shows a traceback
    with pytest.raises(UserError, match=r"^unknown engine 'spark'; choose one of local, ray$"):
        BuildConfig(sources=(("folder", str(dup_corpus)),), out_dir=str(tmp_path / "x"), engine="spark")
    with pytest.raises(UserError, match=r"^no sources: pass at least one --source KIND=PATH$"):
        BuildConfig(sources=(), out_dir=str(tmp_path / "x"))
