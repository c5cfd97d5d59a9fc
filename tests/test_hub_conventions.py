"""Hub conventions of a built dataset: cache keys that follow the data, the card's metadata, no local paths."""

from __future__ import annotations

import json

import datasets
import pytest
import yaml

from conftest import babble, shot_train, write
from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.dataset.hub import load_dataset


def _corpus(root, takes: int, tag: str):
    for model in ("glock_17", "AK-47"):
        for k in range(takes):
            write(root / model / f"take{k}.wav", shot_train((tag, model, k), duration_s=2.5))
    for k in range(2):
        write(root / "background" / "crowd" / f"crowd{k}.wav", babble((tag, k), duration_s=4.5))
    return root


def _build(corpus, out, seed=0, **kw):
    build_dataset(BuildConfig(sources=(("folder", str(corpus)),), out_dir=str(out), seed=seed, workers=1, **kw),
                  progress=False)
    return out


def _rows(ds) -> dict[str, int]:
    return {s: len(ds[s]) for s in ds}


def _sha_of(ds) -> set[str]:
    return {h for s in ds for h in ds[s]["segment_sha256"]}


def _card_meta(folder) -> dict:
    text = (folder / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GUNSHOT_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")


def test_two_builds_in_two_folders_never_share_rows(tmp_path, offline):
    small = _build(_corpus(tmp_path / "c_small", 2, "a"), tmp_path / "one" / "gunshot-bench")
    large = _build(_corpus(tmp_path / "c_large", 4, "b"), tmp_path / "two" / "gunshot-bench")
    first = load_dataset("clean", data_dir=small)
    second = load_dataset("clean", data_dir=large)
    assert sum(_rows(first).values()) == 4 and sum(_rows(second).values()) == 8
    assert not _sha_of(first) & _sha_of(second)
    # the same through `datasets` itself, into its shared cache: the card's dataset_info keys it
    assert sum(_rows(datasets.load_dataset(str(small), "clean")).values()) == 4
    assert sum(_rows(datasets.load_dataset(str(large), "clean")).values()) == 8


def test_one_folder_rebuilt_with_another_seed_gives_the_new_rows(tmp_path, offline):
    corpus = _corpus(tmp_path / "c", 4, "a")
    out = _build(corpus, tmp_path / "gunshot-bench", seed=0)
    before = load_dataset("clean", data_dir=out)
    before_info = _card_meta(out)["dataset_info"]
    _build(corpus, out, seed=7, overwrite=True)
    after = load_dataset("clean", data_dir=out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert _rows(after) == {s: n for s, n in manifest["rows"]["clean"].items() if n}
    assert _card_meta(out)["dataset_info"] != before_info  # the fingerprint moved with the data
    # the same recordings, split by another seed: each split's rows are what the new manifest says
    by_split = {s: set(after[s]["recording_id"]) for s in after}
    assert by_split != {s: set(before[s]["recording_id"]) for s in before}


def test_offline_bare_name_without_a_folder_finds_nothing(tmp_path, offline, monkeypatch):
    built = _build(_corpus(tmp_path / "c", 2, "a"), tmp_path / "built" / "gunshot-bench")
    assert sum(_rows(load_dataset("clean", data_dir=built)).values()) == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    with pytest.raises((FileNotFoundError, ConnectionError)):
        datasets.load_dataset("gunshot-bench", "clean")


def test_card_metadata_and_manifest(tmp_path, offline):
    corpus = _corpus(tmp_path / "c", 2, "a")
    out = _build(corpus, tmp_path / "gunshot-bench")
    meta = _card_meta(out)
    manifest = json.loads((out / "manifest.json").read_text())
    info = {i["config_name"]: i for i in meta["dataset_info"]}
    clean_splits = {s["name"]: s["num_examples"] for s in info["clean"]["splits"]}
    assert clean_splits == {s: n for s, n in manifest["rows"]["clean"].items() if n}
    assert manifest["fingerprint"] in info["clean"]["description"]
    assert info["clean"]["download_size"] == sum(p.stat().st_size for p in (out / "data" / "clean").glob("*.parquet"))
    assert info["clean"]["dataset_size"] == sum(s["num_bytes"] for s in info["clean"]["splits"]) > 0
    assert meta["license"] == "other" and "unspecified (user data)" in meta["license_details"]
    assert meta["size_categories"] == ["n<1K"] and meta["task_categories"] == ["audio-classification"]
    assert meta["task_ids"] and meta["pretty_name"]
    body = (out / "README.md").read_text()
    for column in datasets.load_dataset(str(out), "clean")["train"].features:
        assert f"| `{column}` |" in body
    assert "## Uses and misuses" in body and "@software{gunshot_bench" in body
    # nothing `publish` uploads holds an absolute local path
    for path in out.rglob("*"):
        if path.suffix in (".json", ".md"):
            assert str(tmp_path) not in path.read_text(), path


def test_is_gunshot_is_a_class_label(tmp_path, offline):
    out = _build(_corpus(tmp_path / "c", 2, "a"), tmp_path / "gunshot-bench", variants=("detection",))
    ds = datasets.load_dataset(str(out), "detection")
    feature = ds["train"].features["is_gunshot"]
    assert isinstance(feature, datasets.ClassLabel) and feature.names == ["non_gunshot", "gunshot"]
    labels = {v for s in ds for v in ds[s]["is_gunshot"]}
    assert labels == {0, 1}
