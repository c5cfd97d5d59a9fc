"""Exported runs without torch: the same probabilities, events and labels as the torch models."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from gunshot_bench.errors import UserError
from gunshot_bench.features import SAMPLE_RATE, FeatureStats
from gunshot_bench.predict import predict_files
from gunshot_bench.rng import derive_rng
from gunshot_bench.train import load_run, train_run
from synth_clips import fake_split, make_clips, shot

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from gunshot_bench.export import attach_onnx, export_onnx  # noqa: E402
from gunshot_bench.exported import load_exported, softmax, standardise  # noqa: E402

torch.set_num_threads(1)
MODELS_USED = [0, 1, 3, 4, 16, 24, 28]  # two machine guns, two pistols: real sub-models
TINY = {"max_epochs": 2, "channels": [16, 16, 16], "batch_size": 16}


def _train(root, model, task, params):
    data = root / "data"
    data.mkdir(exist_ok=True)
    mp = pytest.MonkeyPatch()
    mp.setattr("gunshot_bench.dataset.read.load_arrays",
               lambda d, config="clean", split="train": fake_split(MODELS_USED, 3, 0, split))
    try:
        train_run(data, model, task, 0, root / model, params, progress=False)
    finally:
        mp.undo()
    export_onnx(root / model)
    return root / model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    return {"two_stage": _train(root, "audioresnet_two_stage", "two_stage", TINY),
            "flat": _train(root, "audioresnet_flat", "category", TINY)}


@pytest.mark.parametrize("name", ["two_stage", "flat"])
def test_probabilities_match_the_torch_model_with_the_export_attached(runs, name):
    run = runs[name]
    X = make_clips([0, 1, 2, 3, 4, 5, 1, 3], seed=11)
    torch_model = attach_onnx(load_run(run).model, run / "onnx", run / "model", threads=1)
    lean = load_exported(run, threads=1).model
    expected, got = torch_model.predict_proba(X), lean.predict_proba(X)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)  # softmax: numpy's, not torch's
    assert np.array_equal(lean.classes_, torch_model.classes_)
    assert np.array_equal(got.argmax(1), expected.argmax(1))


def test_standardisation_is_torch_s_bit_for_bit_and_softmax_close():
    rng = derive_rng(0, "standardise")
    F = (rng.standard_normal((3, 512, 345)) * 2 + 0.5).astype(np.float32)
    for mean, std in [(0.1877, 0.4756), (0.19233615485439035, 0.22343597401203885), (1.3, 2.7)]:
        ours = standardise(F, mean, std)
        theirs = ((torch.from_numpy(F) - mean) / std).numpy()
        assert np.array_equal(ours.view(np.int32), theirs.view(np.int32))
        assert np.array_equal(FeatureStats(mean, std).apply(F), ours)
    logits = (rng.standard_normal((200, 13)) * 6).astype(np.float32)
    ours = softmax(logits)
    np.testing.assert_allclose(ours, torch.softmax(torch.from_numpy(logits), 1).numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.sum(1), 1.0, atol=1e-6)


def test_predict_events_and_labels_match_the_torch_engine(runs, tmp_path):
    """A 48 kHz stereo recording with shots and a burst: the torch-free engine ("auto") finds the
    same events (times, shot counts, peaks: every field) and labels as `--engine torch`."""
    rng = derive_rng(1, "recording")
    x = 0.003 * rng.standard_normal(14 * SAMPLE_RATE)
    for k, t in enumerate([1.0, 4.3, 8.0, 11.0, 11.1, 11.2]):
        start = int(t * SAMPLE_RATE)
        x[start:start + SAMPLE_RATE] += shot(rng, k % 6, SAMPLE_RATE, amplitude=0.5)
    import soxr

    y = soxr.resample(x.astype(np.float32), SAMPLE_RATE, 48_000)
    sf.write(tmp_path / "rec.wav", np.stack([y, 0.7 * y], 1), 48_000, subtype="FLOAT")
    sf.write(tmp_path / "clip.wav", make_clips([3], seed=4)[0], SAMPLE_RATE)
    files = [tmp_path / "rec.wav", tmp_path / "clip.wav"]
    for run in runs.values():
        lean = predict_files(files, run_dir=run)  # auto: the export, without torch
        eager = predict_files(files, run_dir=run, engine="torch")
        assert [r.kind for r in lean] == ["recording", "clip"] and all(r.ok for r in lean)
        assert [d.n_shots for d in lean[0].detections] == [1, 1, 1, 3]
        for a, b in zip(lean, eager):
            assert len(a.detections) == len(b.detections)
            for da, db in zip(a.detections, b.detections):
                assert (da.start_s, da.end_s, da.n_shots, da.shot_times_s, da.peak_db, da.label) == \
                    (db.start_s, db.end_s, db.n_shots, db.shot_times_s, db.peak_db, db.label)
                assert da.probability == pytest.approx(db.probability, abs=1e-5)  # onnxruntime vs eager torch


def test_stale_or_foreign_exports_are_refused(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["two_stage"], run)
    manifest = json.loads((run / "onnx" / "manifest.json").read_text())
    stale = json.loads(json.dumps(manifest))
    stale["networks"]["pistol"]["weights_sha256"] = "0" * 64
    (run / "onnx" / "manifest.json").write_text(json.dumps(stale))
    with pytest.raises(UserError, match="other weights"):
        load_exported(run)
    del manifest["networks"]["pistol"]
    (run / "onnx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="export this run again"):
        load_exported(run)
    shutil.copytree(runs["flat"] / "onnx", run / "onnx", dirs_exist_ok=True)  # another run's export
    with pytest.raises(UserError, match="holds an export of 'audioresnet_flat'"):
        load_exported(run)
    shutil.rmtree(run / "onnx")
    with pytest.raises(FileNotFoundError, match="no ONNX export"):
        load_exported(run)
