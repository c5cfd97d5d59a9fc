"""Issue 16, part 4: what is loaded is verified (flipped bytes, stray shards, label swaps, forged manifests)."""

import io
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from gunshot_bench.cli import main as cli_main
from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.dataset.hub import load_dataset
from gunshot_bench.dataset.shards import file_sha256, shard_paths
from gunshot_bench.dataset.verify import DatasetCorrupt, check_dataset, verify_dataset
from tests.conftest import shot_train, write


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    corpus = root / "corpus"
    for model in ("glock_17", "AK-47", "MP5"):
        for k in range(4):
            write(corpus / model / f"take{k}.wav", shot_train((model, k), duration_s=4.5))
    out = root / "ds"
    build_dataset(BuildConfig(sources=(("folder", str(corpus)),), out_dir=str(out), workers=1), progress=False)
    return out


@pytest.fixture
def ds(built, tmp_path) -> Path:
    copy = tmp_path / "ds"
    shutil.copytree(built, copy)
    return copy


def first_shard(ds: Path) -> Path:
    return shard_paths(ds, "clean", "train")[0]


def rewrite_rows(path: Path, change) -> None:
    """Rewrite a shard with `change(rows)` applied, keeping its schema (as a forger would)."""
    table = pq.read_table(path)
    rows = table.to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def test_intact_dataset_passes_every_check(ds, capsys):
    v = verify_dataset(ds)
    assert v.ok and v.shards >= 3 and v.rows == v.rows_decoded > 0, v.problems
    check_dataset(ds)
    assert cli_main(["verify", str(ds)]) == 0 and "intact" in capsys.readouterr().out


def test_flipped_bytes_inside_the_audio_fail_the_shard_checksum(ds, capsys):
    shard = first_shard(ds)
    expected = file_sha256(shard)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    rel = shard.relative_to(ds).as_posix()
    with pytest.raises(DatasetCorrupt, match=f"shard {rel} fails its checksum \\(expected {expected}, found "):
        check_dataset(ds)
    with pytest.raises(DatasetCorrupt, match="fails its checksum"):
        load_dataset("clean", data_dir=ds)  # load_dataset verifies before `datasets` reads a byte
    assert cli_main(["verify", str(ds)]) == 1 and "fails its checksum" in capsys.readouterr().out


def test_row_whose_audio_no_longer_matches_its_segment_sha256(ds):
    shard = first_shard(ds)

    def flip(rows):
        pcm, rate = sf.read(io.BytesIO(rows[0]["audio"]["bytes"]), dtype="int16")
        pcm[100] ^= 0x55
        buf = io.BytesIO()
        sf.write(buf, pcm, rate, format="WAV", subtype="PCM_16")
        rows[0]["audio"] = {"bytes": buf.getvalue(), "path": rows[0]["audio"]["path"]}

    rewrite_rows(shard, flip)
    problems = verify_dataset(ds).problems
    assert any("does not match its segment_sha256" in p for p in problems)
    assert any("fails its checksum" in p for p in problems)


def test_stray_extra_shard_is_refused(ds):
    shard = first_shard(ds)
    shutil.copy(shard, shard.with_name("train-00009-of-00009.parquet"))
    with pytest.raises(DatasetCorrupt, match="is not listed in manifest.json"):
        check_dataset(ds)


def test_label_swap_is_caught_even_with_a_recomputed_shard_checksum(ds):
    shard = first_shard(ds)
    rewrite_rows(shard, lambda rows: rows[0].update(model=(rows[0]["model"] + 1) % 32))
    assert any("fails its checksum" in p for p in verify_dataset(ds, full=False).problems)
    # a forger who also rewrites the checksum and the fingerprint is still caught by the labels
    manifest = json.loads((ds / "manifest.json").read_text())
    rel = shard.relative_to(ds).as_posix()
    for entry in manifest["shards"]["clean"]["train"]:
        if entry["path"] == rel:
            entry["sha256"] = file_sha256(shard)
    import hashlib
    listing = sorted(f"{s['path']}:{s['sha256']}" for c in manifest["shards"].values() for ss in c.values() for s in ss)
    manifest["fingerprint"] = hashlib.sha256("\n".join(listing).encode()).hexdigest()
    (ds / "manifest.json").write_text(json.dumps(manifest))
    assert verify_dataset(ds, full=False).ok
    assert any("differ from build_report.json" in p for p in verify_dataset(ds).problems)


def test_forged_manifest_fingerprint_is_refused(ds):
    manifest = json.loads((ds / "manifest.json").read_text())
    manifest["fingerprint"] = "0" * 64
    (ds / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetCorrupt, match="does not match its own shard listing"):
        check_dataset(ds)


def test_forged_row_count_is_refused(ds):
    manifest = json.loads((ds / "manifest.json").read_text())
    manifest["rows"]["clean"]["train"] += 5
    (ds / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetCorrupt, match="config clean split train holds \\d+ rows, manifest.json says"):
        check_dataset(ds)


def test_unknown_files_are_reported_by_the_full_check(ds):
    (ds / "data" / "clean" / "notes.txt").write_text("hi")
    problems = verify_dataset(ds).problems
    assert problems == ["unknown file data/clean/notes.txt (not written by a build)"]


def test_train_refuses_a_corrupt_dataset_in_one_line_and_no_verify_skips(ds, tmp_path, capsys):
    shard = first_shard(ds)
    shard.write_bytes(shard.read_bytes()[:-10])
    code = cli_main(["train", "--data", str(ds), "--model", "lda", "--task", "category", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "fails its checksum" in err and "\n" not in err
    for command in (["leaderboard", "--data", str(ds), "--out", str(tmp_path / "lb")],
                    ["robustness", "--data", str(ds), "--out", str(tmp_path / "lb")]):
        assert cli_main(command) == 2 and "fails its checksum" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_refuses_to_write_into_a_dataset_folder(ds, capsys):
    before = sorted(p.name for p in ds.iterdir())
    code = cli_main(["train", "--data", str(ds), "--model", "lda", "--task", "category", "--out", str(ds)])
    assert code == 2 and "is a dataset folder" in capsys.readouterr().err
    assert sorted(p.name for p in ds.iterdir()) == before
