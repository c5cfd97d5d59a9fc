"""ONNX export: onnxruntime gives the torch models' outputs; stale or foreign exports are refused."""

import json

import numpy as np
import pytest
import torch

from gunshot_bench.cli import main
from gunshot_bench.train import load_run, train_run
from synth_clips import fake_split, make_clips

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from gunshot_bench.export import (FixedAdaptiveMaxPool2d, attach_onnx, export_onnx,  # noqa: E402
                                  read_manifest)

torch.set_num_threads(1)
MODELS_USED = [0, 1, 3, 4, 16, 24, 28]  # two machine guns, two pistols: real sub-models
TINY = {"max_epochs": 1, "channels": [16, 16, 16], "batch_size": 16}


def _train(root, model, task):
    data = root / "data"
    data.mkdir(exist_ok=True)
    mp = pytest.MonkeyPatch()
    mp.setattr("gunshot_bench.dataset.read.load_arrays",
               lambda d, config="clean", split="train": fake_split(MODELS_USED, 3, 0, split))
    try:
        train_run(data, model, task, 0, root / model, TINY if model != "lda" else None, progress=False)
    finally:
        mp.undo()
    return root / model


@pytest.fixture(scope="module")
def two_stage_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("export"), "audioresnet_two_stage", "two_stage")


def test_onnx_two_stage_matches_torch(two_stage_run):
    paths = export_onnx(two_stage_run)
    manifest = read_manifest(two_stage_run / "onnx")
    # category model + the sub-models of machine_gun (0, 1) and pistol (3, 4); rifle, shotgun
    # and submachine gun have one model each here, so constant sub-models without a network
    assert sorted(p.name for p in paths) == ["category.onnx", "machine_gun.onnx", "pistol.onnx"]
    assert all(e["max_abs_diff"] < 1e-4 for e in manifest["networks"].values())
    X = make_clips([0, 1, 2, 3, 4, 5], seed=7)
    plain = load_run(two_stage_run).model
    fast = attach_onnx(load_run(two_stage_run).model, two_stage_run / "onnx", two_stage_run / "model")
    np.testing.assert_allclose(fast.predict_proba(X), plain.predict_proba(X), atol=1e-5)
    assert np.array_equal(fast.predict(X), plain.predict(X))
    # the onnxruntime session really is in use: its logits differ from eager torch only by rounding
    sess = fast.stage1_.inference_net()
    assert type(sess).__name__ == "OnnxNet"


@pytest.mark.parametrize("shape", [(2, 3, 32, 21), (1, 2, 8, 8), (2, 1, 7, 5), (1, 1, 3, 9)])
def test_fixed_adaptive_max_pool_is_torchs(shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    want = torch.nn.AdaptiveMaxPool2d(4)(x)
    assert torch.equal(FixedAdaptiveMaxPool2d((4, 4), shape[-2:])(x), want)


def test_cnn_exports_and_predicts(tmp_path):
    """The CNN's adaptive max pool (21 frames into 4 bins) exports; its logits and `predict`'s
    exported path (numpy + onnxruntime) agree with torch."""
    from gunshot_bench.exported import load_exported

    run = _train(tmp_path, "cnn", "model")
    assert [p.name for p in export_onnx(run)] == ["model.onnx"]
    assert read_manifest(run / "onnx")["networks"]["model"]["max_abs_diff"] < 1e-4
    X = make_clips([0, 1, 3, 16], seed=7)
    plain = load_run(run).model
    fast = attach_onnx(load_run(run).model, run / "onnx", run / "model")
    np.testing.assert_allclose(fast.predict_proba(X), plain.predict_proba(X), atol=1e-5)
    assert type(fast.inference_net()).__name__ == "OnnxNet"
    np.testing.assert_allclose(load_exported(run).model.predict_proba(X), plain.predict_proba(X), atol=1e-5)
    # the network the run holds is not the patched copy
    assert any(isinstance(m, torch.nn.AdaptiveMaxPool2d) for m in plain.net_.modules())


def test_stale_export_is_refused(two_stage_run, tmp_path):
    export_onnx(two_stage_run, tmp_path / "onnx")
    model = load_run(two_stage_run).model
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text())
    manifest["networks"]["pistol"]["weights_sha256"] = "0" * 64
    (tmp_path / "onnx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="other weights"):
        attach_onnx(model, tmp_path / "onnx", two_stage_run / "model")
    with pytest.raises(FileNotFoundError, match="export RUN_DIR"):
        attach_onnx(model, tmp_path / "nowhere")


def test_cli_export_and_classical_model_refused(two_stage_run, tmp_path, capsys):
    assert main(["export", str(two_stage_run), "--format", "onnx", "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "category.onnx").is_file()
    lda = _train(tmp_path, "lda", "model")
    assert main(["export", str(lda), "--format", "onnx"]) == 2
    assert "no neural network" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing"), "--format", "onnx"]) == 2


@pytest.mark.slow
def test_predict_engines_agree(two_stage_run, tmp_path):
    import soundfile as sf

    from gunshot_bench.features import SAMPLE_RATE
    from gunshot_bench.predict import predict_files

    clip = make_clips([3], seed=4)[0]
    rec = np.concatenate([make_clips([1], seed=5)[0], make_clips([0], seed=6)[0]])
    sf.write(tmp_path / "clip.wav", clip, SAMPLE_RATE)
    sf.write(tmp_path / "rec.wav", rec, SAMPLE_RATE)
    files = [tmp_path / "clip.wav", tmp_path / "rec.wav"]
    bare = tmp_path / "bare_run"
    import shutil

    shutil.copytree(two_stage_run, bare, ignore=shutil.ignore_patterns("onnx"))
    with pytest.raises(FileNotFoundError, match="no ONNX export"):
        predict_files(files, run_dir=bare, engine="onnx")
    export_onnx(two_stage_run)
    by_engine = {e: predict_files(files, run_dir=two_stage_run, engine=e) for e in ("torch", "onnx", "auto")}
    for a, b in zip(by_engine["torch"], by_engine["onnx"]):
        assert a.ok and b.ok and len(a.detections) == len(b.detections) >= 1
        for da, db in zip(a.detections, b.detections):
            assert da.label == db.label and da.probability == pytest.approx(db.probability, abs=1e-5)
    assert [r.to_dict() for r in by_engine["auto"]] == [r.to_dict() for r in by_engine["onnx"]]


def test_predict_imports_only_what_the_run_needs(two_stage_run, tmp_path):
    """`predict` through an export imports neither torch nor scikit-learn (nor pandas, pyarrow
    or any model module: `exported.load_exported` reads the run's JSON files); with the torch
    engine it loads the two-stage model's module alone, not the other models' libraries
    (hmmlearn, numba through librosa, the embedding encoders). Neither imports the `onnx` graph
    library; onnxruntime only with the onnx engine (each is tens of MB of resident memory)."""
    import subprocess
    import sys
    from pathlib import Path

    import soundfile as sf

    export_onnx(two_stage_run)
    rng = np.random.default_rng(0)
    x = 0.01 * rng.standard_normal(44_100 * 6)
    x[44_100 * 2:44_100 * 2 + 4000] += rng.standard_normal(4000) * np.exp(-np.arange(4000) / 300)
    sf.write(tmp_path / "rec.wav", x.astype(np.float32), 44_100)
    code = ("import json, sys\nfrom gunshot_bench.predict import predict_files\n"
            "r = predict_files([sys.argv[1]], run_dir=sys.argv[2], engine=sys.argv[3])[0]\n"
            "print(json.dumps([r.ok, len(r.detections), sorted(sys.modules)]))")
    root = Path(__file__).resolve().parents[1]
    for engine in ("auto", "onnx", "torch"):
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "rec.wav"), str(two_stage_run), engine],
                             cwd=root, capture_output=True, text=True, check=True)
        ok, n_events, modules = json.loads(out.stdout.strip().splitlines()[-1])
        assert ok and n_events >= 1
        top = {m.split(".")[0] for m in modules}
        unneeded = {"hmmlearn", "numba", "librosa.filters", "onnx", "gunshot_bench.models.classical",
                    "gunshot_bench.models.embedding", "gunshot_bench.encoders"}
        assert unneeded.isdisjoint(modules), unneeded & set(modules)
        assert ("onnxruntime" in modules) == (engine != "torch")
        if engine == "torch":
            assert "gunshot_bench.models.two_stage" in modules and "torch" in top
        else:
            assert top.isdisjoint({"torch", "sklearn", "pandas", "pyarrow"}), top & {"torch", "sklearn", "pandas", "pyarrow"}
            assert not [m for m in modules if m.startswith("gunshot_bench.models")]
