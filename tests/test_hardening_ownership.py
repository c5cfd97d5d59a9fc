"""Issue 16, part 1: a build owns only what it wrote (marker, refusals, lock, stale staging)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gunshot_bench.cli import main as cli_main
from gunshot_bench.dataset import ownership
from gunshot_bench.dataset.build import BuildConfig, build_dataset
from tests.conftest import shot_train, write


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for model in ("glock_17", "AK-47"):
        for k in range(2):
            write(root / model / f"take{k}.wav", shot_train((model, k), duration_s=2.5))
    return root


def build(corpus, out, **kw):
    return build_dataset(BuildConfig(sources=(("folder", str(corpus)),), out_dir=str(out), workers=1, **kw),
                         progress=False)


def test_marker_lists_every_file_the_build_wrote(corpus, tmp_path):
    out = tmp_path / "ds"
    build(corpus, out)
    owned = ownership.owned_files(out)
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted([f for f in owned if not f.endswith("/")] + [ownership.MARKER]) == on_disk
    assert {"manifest.json", "build_report.json", "README.md"} <= set(owned)


@pytest.mark.parametrize("added", ["notes.txt", ".git/HEAD", "runs/train_out/model.json"])
def test_rebuild_refuses_user_files_and_keeps_them(corpus, tmp_path, added):
    out = tmp_path / "ds"
    build(corpus, out)
    user_file = out / added
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text("mine")
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    for overwrite in (False, True):
        with pytest.raises(ownership.OutputRefused, match="files that no build wrote") as err:
            build(corpus, out, overwrite=overwrite, seed=7)
        assert added.split("/")[0] in str(err.value) and "\n" not in str(err.value)
    assert user_file.read_text() == "mine"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before


def test_rebuild_with_same_settings_replaces_its_own_build(corpus, tmp_path):
    out = tmp_path / "ds"
    first = build(corpus, out)
    second = build(corpus, out)
    assert first.fingerprint == second.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "ds"]  # no lock, staging or old folder left


def test_folder_with_a_stray_manifest_is_refused_even_with_overwrite(corpus, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"parameters": {}}))
    (out / "thesis.tex").write_text("years of work")
    for overwrite in (False, True):
        with pytest.raises(ownership.OutputRefused, match="not a gunshot-bench dataset.*manifest.json.*thesis.tex"):
            build(corpus, out, overwrite=overwrite)
    assert (out / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("text, reason", [("[1, 2]", "JSON list, not an object"), ("{not json", "not valid JSON")])
def test_malformed_manifest_in_a_build_is_one_line_naming_the_file(corpus, tmp_path, capsys, text, reason):
    out = tmp_path / "ds"
    build(corpus, out)
    (out / "manifest.json").write_text(text)
    code = cli_main(["build", "--source", f"folder={corpus}", "--out", str(out), "--variants", "none", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and reason in err and str(out / "manifest.json") in err and "\n" not in err


def test_replacing_an_old_build_deletes_only_marked_files(corpus, tmp_path):
    old = tmp_path / ".ds.old-1"
    build(corpus, old)
    (old / "late_note.txt").write_text("added after the check")
    left = ownership.remove_owned(old)
    assert left == ["late_note.txt"] and (old / "late_note.txt").read_text() == "added after the check"


def test_concurrent_build_into_the_same_out_fails_fast(corpus, tmp_path):
    out = tmp_path / "ds"
    with ownership.OutputLock(out.resolve()):
        with pytest.raises(ownership.OutputRefused, match=f"another build \\(pid {os.getpid()}\\) is writing"):
            build(corpus, out)
        # a second process sees the lock too (flock is per open file, not per process)
        code = subprocess.run([sys.executable, "-m", "gunshot_bench.cli", "build", "--source", f"folder={corpus}",
                               "--out", str(out), "--variants", "none", "--no-progress"],
                              capture_output=True, text=True, cwd=Path(__file__).parents[1])
        assert code.returncode == 2 and "another build" in code.stderr
    assert not out.exists()
    build(corpus, out)  # released: the next build goes ahead
    assert (out / "manifest.json").is_file()


def test_stale_staging_of_dead_builds_is_cleaned(corpus, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # this process has exited, so its pid names no running build
    stale = tmp_path / f".ds.building-{pid}"
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "big.parquet").write_bytes(b"\0" * 1000)
    alive = tmp_path / f".ds.building-{os.getppid()}"  # a running process: not ours to remove
    alive.mkdir()
    other = tmp_path / f".other.building-{pid}"  # another output's staging
    other.mkdir()
    build(corpus, tmp_path / "ds")
    assert not stale.exists() and alive.is_dir() and other.is_dir()
