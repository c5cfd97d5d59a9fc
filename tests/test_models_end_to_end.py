"""End to end on the simulator's tiny preset: simulate, build, train (CLI), predict, default model."""

import json

import pytest
import torch

from gunshot_bench.cli import main
from gunshot_bench.predict import default_run_dir, ensure_default_model, predict_files
from gunshot_bench.train import load_run

torch.set_num_threads(1)


@pytest.mark.slow
def test_tiny_preset_train_and_predict(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GUNSHOT_BENCH_HOME", str(tmp_path / "home"))
    # First use of the default model: simulate + build + train two-stage (1 epoch here).
    run = ensure_default_model(progress=False, preset="tiny", overrides={"max_epochs": 1})
    assert run == default_run_dir()
    loaded = load_run(run)
    assert loaded.config["model"] == "audioresnet_two_stage" and loaded.dataset_version == "0.1.0"
    data = tmp_path / "home" / next(p.name for p in (tmp_path / "home").iterdir()
                                    if p.name.startswith("default-work")) / "dataset"
    # A classical baseline through the CLI on the same dataset.
    assert main(["train", "--data", str(data), "--model", "lda", "--task", "category",
                 "--out", str(tmp_path / "lda")]) == 0
    assert "validation: accuracy" in capsys.readouterr().out
    wavs = sorted((tmp_path / "home").rglob("*.wav"))[:2]
    assert wavs
    results = predict_files(wavs)  # no run dir: the default model
    assert all(r.ok and r.simulated_training for r in results)
    assert all(" - " in d.label for r in results for d in r.detections)
    assert main(["predict", *map(str, wavs), "--model", str(tmp_path / "lda"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in out] == [True, True] and not out[0]["simulated_training"]
