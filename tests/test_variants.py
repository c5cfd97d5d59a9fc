"""The variant configs on a tiny staged build: physics, traceability, splits, determinism."""

from __future__ import annotations

import hashlib
import math
import shutil
from collections import defaultdict

import numpy as np
import pyloudnorm
import pytest

from gunshot_bench.audio import decode_wav, encode_wav, pcm_sha256
from gunshot_bench.dataset.schema import SPLITS
from gunshot_bench.dataset.shards import iter_rows, shard_paths
from gunshot_bench.variants import ALL, CrowdNoiseConfig, DetectionConfig, EnergyConfig, write_variants
from gunshot_bench.variants import mixing as mx
from gunshot_bench.variants.base import encode

from variants_fixtures import SEG, SR, noise_recording, write_stage

SEED = 7


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = write_stage(tmp_path_factory.mktemp("stage"))
    summaries = {s.config: s for s in write_variants(root, ALL, SEED, progress=False, workers=1)}
    return root, summaries


def rows(root, config, split=None, audio=True):
    splits = [split] if split else SPLITS
    out = []
    for s in splits:
        for r in iter_rows(root, config, s):
            r["split"] = s
            if audio:
                r["x"] = decode_wav(r["audio"]["bytes"])[0].astype(np.float64)
            out.append(r)
    return out


def by_clip_id(root, config):
    return {r["clip_id"]: r for r in rows(root, config)}


def noise_excerpt(background: dict, noise_id: str, offset_s: float) -> np.ndarray:
    """Rebuild a noise excerpt from the row's noise_id/offset: it may run into the next segment."""
    first = background[noise_id]
    key, index = noise_id.rsplit("#", 1)
    following = background.get(f"{key}#{int(index) + 1}")
    audio = first["x"] if following is None else np.concatenate([first["x"], following["x"]])
    start = round(offset_s * SR)
    return audio[start:start + SEG]


def test_counts_and_card(built):
    root, summaries = built
    assert [*summaries] == list(ALL)
    for name, summary in summaries.items():
        for split in SPLITS:
            assert summary.counts[split] == sum(1 for _ in iter_rows(root, name, split)) > 0
        assert summary.card_section.startswith(f"**`{name}`**")
        assert f"train {summary.counts['train']}" in summary.card_section
    clean = {s: len(rows(root, "clean", s, audio=False)) for s in SPLITS}
    assert summaries["crowd_noise"].counts == {s: 5 * clean[s] for s in SPLITS}
    assert "-5, 0, 5, 10, 20 dB SNR (event definition)" in summaries["crowd_noise"].card_section
    assert "-30, -20, -10, +0, +6 dB" in summaries["energy"].card_section
    assert not (root / "_variants_work").exists()


def test_crowd_noise_rows_trace_back_and_hit_the_snr(built):
    root, _ = built
    clean, background = by_clip_id(root, "clean"), by_clip_id(root, "background")
    checked = defaultdict(int)
    for row in rows(root, "crowd_noise"):
        source = clean[row["source_clip_id"]]
        assert row["is_gunshot"] and row["model"] == source["model"] and row["split"] == source["split"]
        assert row["seed"] == SEED and row["snr_definition"] == "event" and not row["noise_looped"]
        assert row["segment_sha256"] == pcm_sha256(row["x"])
        noise = noise_excerpt(background, row["noise_id"], row["noise_offset_s"])
        expected = source["x"] + noise * 10 ** (row["noise_gain_db"] / 20)
        assert row["clipped"] == (np.max(np.abs(expected)) > 1.0)
        stored = np.clip(expected, -1.0, 32767 / 32768)
        assert np.max(np.abs(row["x"] - stored)) <= 1.01 / 32768  # one LSB of 16-bit rounding
        if not row["clipped"]:
            a, b = mx.event_window(source["x"], SR)
            snr = 10 * math.log10(np.mean(source["x"][a:b] ** 2) / np.mean((row["x"] - source["x"])[a:b] ** 2))
            assert abs(snr - row["snr_db"]) < 0.1
            checked[row["snr_db"]] += 1
    assert sorted(checked) == [-5.0, 0.0, 5.0, 10.0, 20.0]  # every level verified on stored audio


def test_noise_comes_from_the_clips_own_split_only(built):
    root, _ = built
    background = by_clip_id(root, "background")
    noise_recordings = defaultdict(set)
    for config in ("crowd_noise", "detection"):
        for row in rows(root, config, audio=False):
            if row["noise_id"] is None:
                continue
            noise = background[row["noise_id"]]
            assert noise["split"] == row["split"]
            noise_recordings[row["split"]].add(noise["recording_id"])
    assert noise_recordings["train"] and noise_recordings["test"] and noise_recordings["validation"]
    assert not noise_recordings["train"] & noise_recordings["test"]
    assert not noise_recordings["train"] & noise_recordings["validation"]


def test_noise_kinds_are_crowd_scream_street_or_user_noise(built):
    root, _ = built
    kinds = {row["noise_kind"] for row in rows(root, "crowd_noise", audio=False)}
    ids = {row["noise_id"] for row in rows(root, "crowd_noise", audio=False)}
    assert kinds <= {"crowd", "scream", "street", "user noise"} and {"crowd", "user noise"} <= kinds
    assert not any("fireworks" in i for i in ids)


def test_energy_gain_rows_are_exact(built):
    root, _ = built
    clean = by_clip_id(root, "clean")
    clean.update(by_clip_id(root, "background"))
    n_gain = 0
    for row in rows(root, "energy"):
        source = clean[row["source_clip_id"]]
        assert (row["gain_db"] is None) != (row["target_lufs"] is None)
        expected = source["x"] * 10 ** (row["applied_gain_db"] / 20)
        assert row["clipped"] == (np.max(np.abs(expected)) > 1.0)
        assert row["peak_dbfs"] == pytest.approx(mx.peak_dbfs(expected), abs=1e-3)
        assert np.max(np.abs(row["x"] - np.clip(expected, -1, 32767 / 32768))) <= 1.01 / 32768
        if row["energy_mode"] == "gain":
            assert row["applied_gain_db"] == row["gain_db"]
            n_gain += 1
    assert n_gain == 5 * len(clean)


def test_energy_loudness_rows_measure_the_target_on_stored_audio(built):
    root, _ = built
    meter = pyloudnorm.Meter(SR, block_size=0.4)
    levels = defaultdict(int)
    clipped = 0
    for row in rows(root, "energy"):
        measured = meter.integrated_loudness(row["x"])
        assert row["measured_lufs"] == pytest.approx(measured, abs=0.01)
        if row["energy_mode"] == "loudness" and not row["clipped"]:
            assert abs(measured - row["target_lufs"]) < 0.5
            levels[row["target_lufs"]] += 1
        if row["clipped"]:
            clipped += 1
            assert row["peak_dbfs"] > 0 and np.max(np.abs(row["x"])) >= 32767 / 32768
    assert sorted(levels) == [-40.0, -30.0, -23.0, -14.0]
    assert clipped  # +6 dB on the loud shots clips, and the rows say so
    summary = built[1]["energy"]
    assert sum(summary.clipped.values()) == clipped and summary.clipped["+6 dB"] > 0
    assert f"+6 dB {summary.clipped['+6 dB']}/" in summary.card_section


def test_detection_has_both_classes_and_reuses_crowd_noise_mixtures(built):
    root, summaries = built
    crowd = {(r["source_clip_id"], r["snr_db"]): r["segment_sha256"] for r in rows(root, "crowd_noise", audio=False)}
    det = rows(root, "detection", audio=False)
    clean_n = sum(len(rows(root, "clean", s, audio=False)) for s in SPLITS)
    background = {r["clip_id"]: r for r in rows(root, "background", audio=False)}
    gunshots = [r for r in det if r["is_gunshot"]]
    negatives = [r for r in det if not r["is_gunshot"]]
    assert len(gunshots) == 2 * clean_n
    assert {r["detection_kind"] for r in gunshots} == {"clean", "mixed"}
    assert any("fireworks" in r["rel_path"] for r in negatives)
    assert len(negatives) == 2 * len(background)  # every negative clean + mixed (fixture has noise for all)
    for r in det:
        if r["detection_kind"] == "clean":
            assert r["snr_db"] is None and r["noise_id"] is None
        elif r["is_gunshot"]:
            assert crowd[(r["source_clip_id"], r["snr_db"])] == r["segment_sha256"]
        else:
            assert background[r["noise_id"]]["recording_id"] != r["recording_id"]
    mixed_levels = {r["snr_db"] for r in det if r["detection_kind"] == "mixed"}
    assert len(mixed_levels) >= 3  # drawn per segment, not one level for all


def test_same_seed_same_bytes_and_clips_do_not_move_when_others_are_added(tmp_path):
    first = write_stage(tmp_path / "a")
    write_variants(first, ["crowd_noise"], SEED, progress=False, workers=1)
    second = write_stage(tmp_path / "b")
    write_variants(second, ["crowd_noise"], SEED, progress=False, workers=1)
    digest = lambda root: [hashlib.sha256(p.read_bytes()).hexdigest()
                           for s in SPLITS for p in shard_paths(root, "crowd_noise", s)]
    assert digest(first) == digest(second)
    before = {r["clip_id"]: r for r in rows(first, "crowd_noise", audio=False)}

    # more noise in train: only the draws the new recording wins change
    extra = {"train": [("folder", "background/crowd/train_extra.wav", "background", 4)]}
    grown = write_stage(tmp_path / "c", extra_background=extra)
    write_variants(grown, ["crowd_noise"], SEED, progress=False, workers=1)
    after = {r["clip_id"]: r for r in rows(grown, "crowd_noise", audio=False)}
    assert set(after) == set(before)
    moved = [k for k in before if after[k]["segment_sha256"] != before[k]["segment_sha256"]]
    assert all("train_extra" in after[k]["noise_id"] for k in moved)
    assert 0 < len(moved) < 0.8 * sum(1 for r in before.values() if r["split"] == "train")

    other_seed = tmp_path / "d"
    shutil.copytree(first / "data" / "clean", other_seed / "data" / "clean")
    shutil.copytree(first / "data" / "background", other_seed / "data" / "background")
    shutil.rmtree(other_seed / "data" / "crowd_noise", ignore_errors=True)
    write_variants(other_seed, ["crowd_noise"], SEED + 1, progress=False, workers=1)
    changed = {r["clip_id"]: r["segment_sha256"] for r in rows(other_seed, "crowd_noise", audio=False)}
    assert sum(changed[k] != before[k]["segment_sha256"] for k in before) > 0.8 * len(before)


def test_clip_definition_hits_the_whole_segment_snr(tmp_path):
    root = write_stage(tmp_path)
    configs = {"crowd_noise": CrowdNoiseConfig(snr_db=(0.0, 10.0), definition="clip")}
    write_variants(root, ["crowd_noise"], SEED, progress=False, configs=configs, workers=1)
    clean = by_clip_id(root, "clean")
    mixed = rows(root, "crowd_noise")
    assert len(mixed) == 2 * len(clean)
    for row in mixed:
        source = clean[row["source_clip_id"]]["x"]
        noise = row["x"] - source
        clip_snr = 10 * math.log10(np.mean(source**2) / np.mean(noise**2))
        assert row["snr_definition"] == "clip" and abs(clip_snr - row["snr_db"]) < 0.1
        # the shot stands >= 10 dB further above the noise at its moment than over the clip
        assert mx.measure_snr_db(source, noise, "event", SR) >= row["snr_db"] + 10.0


def test_split_without_noise_is_skipped_with_a_reason(tmp_path):
    root = write_stage(tmp_path)
    configs = {"crowd_noise": CrowdNoiseConfig(noise_kinds=("street",), all_user_noise=False)}
    [summary] = write_variants(root, ["crowd_noise"], SEED, progress=False, configs=configs, workers=1)
    assert summary.counts == {"train": 0, "validation": 0, "test": 0}
    assert summary.skipped == {"no usable noise recording in this split": 5 * 12}
    assert "60 x no usable noise recording" in summary.card_section
    assert not any(shard_paths(root, "crowd_noise", s) for s in SPLITS)  # as the build: no shard for no rows


def test_silent_noise_segments_are_left_out_of_the_pool(tmp_path):
    from gunshot_bench.variants.noise_pool import build_pool

    root = write_stage(tmp_path, silent_noise=True)
    pool = build_pool(root, "train", tmp_path / "work")
    assert pool.excluded == {"silent noise segment (SNR undefined)": 2}
    assert pool.kinds() == {"crowd": 3, "user noise": 2}
    # a draw spanning two segments of a run is the contiguous recording
    run = next(i for i, r in enumerate(pool.runs) if r.kind == "crowd")
    draw = pool.excerpt(run, SEG + 1000, SEG)
    original = noise_recording("background/crowd/train_c.wav", 3)
    np.testing.assert_allclose(draw.samples, original[SEG + 1000:2 * SEG + 1000], atol=1 / 32768)
    assert draw.noise_id.endswith("#1") and draw.offset_s == pytest.approx(1000 / SR)


def test_encode_matches_the_audio_module():
    x = noise_recording("enc", 1, level=0.5)
    wav, sha = encode(x)
    assert wav == encode_wav(x) and sha == pcm_sha256(x)


@pytest.mark.parametrize("make", [
    lambda: CrowdNoiseConfig(snr_db=(-40.0,)),
    lambda: CrowdNoiseConfig(snr_db=(0.0, 0.0)),
    lambda: CrowdNoiseConfig(definition="peak"),
    lambda: CrowdNoiseConfig(noise_kinds=("whales",)),
    lambda: EnergyConfig(gain_db=(30.0,)),
    lambda: EnergyConfig(target_lufs=(3.0,)),
    lambda: EnergyConfig(target_lufs=(-90.0,)),
    lambda: DetectionConfig(mixing=EnergyConfig()),
])
def test_bad_parameters_are_clear_errors(make):
    with pytest.raises(ValueError):
        make()


def test_unknown_variant_name_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown variant.*known: crowd_noise, energy, detection"):
        write_variants(tmp_path, ["crowd_noise", "reverb"], SEED, progress=False)


def test_tasks_group_whole_row_groups_into_shard_sized_chunks(tmp_path):
    from gunshot_bench.dataset import shards
    from gunshot_bench.dataset.schema import clean_features
    from gunshot_bench.variants.runner import TASK_ROWS, plan

    n = TASK_ROWS + 44
    with shards.ShardWriter(tmp_path, "clean", "train", clean_features()) as w:
        for i in range(n):  # plan() reads only parquet metadata: placeholder audio is enough
            w.write({"audio": {"bytes": b"", "path": f"{i}.wav"}, "category": -1, "model": -1, "is_gunshot": 1,
                     "label_raw": "x", "clip_id": f"c#{i}", "source": "s", "rel_path": "r", "recording_id": "g",
                     "segment_index": i, "start_s": 0.0, "orig_sample_rate": SR, "orig_channels": 1,
                     "licence": "", "segment_sha256": ""})
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(shards.shard_paths(tmp_path, "clean", "train")[0]).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    tasks = plan(tmp_path, [CrowdNoiseConfig()])
    assert sum(t.n_rows for t in tasks) == n and len(tasks) >= 2
    assert [t.part for t in tasks] == list(range(len(tasks)))
    assert [g for t in tasks for g in t.row_groups] == list(range(len(sizes)))  # every group once, in order
    for t in tasks[:-1]:  # each task is the fewest whole groups reaching TASK_ROWS
        assert t.n_rows >= TASK_ROWS > t.n_rows - sizes[t.row_groups[-1]]
