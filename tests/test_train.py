"""Training runs: run directory contents, checks before training, fine-tuning, CLI."""

import json

import numpy as np
import pytest
import torch

from gunshot_bench import __version__
from gunshot_bench.cli import main
from gunshot_bench.train import TrainConfig, load_baseline, load_run, split_overrides, train_run
from synth_clips import fake_split

torch.set_num_threads(1)
ONE_PER_CATEGORY = [0, 3, 16, 24, 28]  # M249, Glock 17, AK-47, Benelli Nova, MP5


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    """A dataset folder whose splits come from `fake_split` (the reader is patched)."""
    calls = []

    def load_arrays(data_dir, config="clean", split="train"):
        calls.append((config, split))
        models = state["models"] if split == "train" else ONE_PER_CATEGORY
        return fake_split(models, 4 if split == "train" else 2, seed=0, split=split,
                          background=8 if config == "detection" else 0)

    state = {"models": ONE_PER_CATEGORY, "calls": calls}
    monkeypatch.setattr("gunshot_bench.dataset.read.load_arrays", load_arrays)
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"name": "fake", "version": "9.9.9",
                                                    "fingerprint": "f00"}))
    state["dir"] = data
    return state


def test_train_config_defaults_are_study_a_and_validated():
    c = TrainConfig()
    assert (c.lr, c.weight_decay, c.batch_size, c.max_epochs, c.early_stopping_patience,
            c.lr_factor, c.lr_patience) == (1e-3, 1e-5, 32, 60, 15, 0.5, 3)
    with pytest.raises(ValueError):
        TrainConfig(lr=0)
    config, params = split_overrides("cnn", {"max_epochs": 3, "dense_units": 8})
    assert config.max_epochs == 3 and params == {"dense_units": 8}
    with pytest.raises(ValueError, match="no parameter bogus"):
        split_overrides("cnn", {"bogus": 1})


def test_every_baseline_file_loads_with_its_small_profile():
    from gunshot_bench.train import BASELINES_DIR

    names = sorted(p.stem for p in BASELINES_DIR.glob("*.toml"))
    assert names == ["aisfx_finetune", "aisfx_finetune_two_stage", "aisfx_probe", "aisfx_probe_two_stage",
                     "audioresnet_flat", "audioresnet_two_stage", "cnn", "gmm", "hmm", "lda", "svm"]
    two = load_baseline("audioresnet_two_stage", profile="small")
    assert two["tasks"] == ["two_stage"] and two["overrides"]["max_epochs"] < 60
    assert load_baseline("audioresnet_two_stage")["overrides"]["max_epochs"] == 60
    for name in names:  # every file validates against its model's parameters
        assert load_baseline(name)["model"] == name or name.startswith("aisfx_")


def test_run_directory_round_trip(fake_data, tmp_path):
    run = tmp_path / "run"
    result = train_run(fake_data["dir"], "lda", "model", seed=0, out_dir=run, progress=False)
    assert {p.name for p in run.iterdir()} >= {"config.json", "history.json", "history.png", "model"}
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == {"name": "fake", "version": "9.9.9", "fingerprint": "f00"}
    assert config["package_version"] == __version__ and config["seed"] == 0
    assert result.metrics["accuracy"] >= 0.8  # 5 classes: chance is 0.2
    loaded = load_run(run)
    assert loaded.dataset_version == "9.9.9" and loaded.task.name == "model"
    X, frame = fake_split(ONE_PER_CATEGORY, 2, seed=0, split="validation")
    np.testing.assert_array_equal(loaded.model.predict_proba(X), result.model.predict_proba(X))


def test_checkpoint_from_other_version_or_labels_is_refused(fake_data, tmp_path):
    run = tmp_path / "run"
    train_run(fake_data["dir"], "lda", "category", seed=0, out_dir=run, progress=False)
    path = run / "config.json"
    good = json.loads(path.read_text())
    path.write_text(json.dumps({**good, "package_version": "0.0.1"}))
    with pytest.raises(ValueError, match=rf"gunshot-bench 0\.0\.1.*gunshot-bench {__version__}"):
        load_run(run)
    path.write_text(json.dumps({**good, "label_names": ["pistol", "rifle"]}))
    with pytest.raises(ValueError, match="do not match task category"):
        load_run(run)
    header = json.loads((run / "model" / "model.json").read_text())
    path.write_text(json.dumps(good))
    (run / "model" / "model.json").write_text(json.dumps({**header, "package_version": "0.0.1"}))
    with pytest.raises(ValueError, match="0.0.1"):
        load_run(run)
    # an older checkpoint layout (format 1 had no AudioResNet stem_stride) is refused, not misread
    (run / "model" / "model.json").write_text(json.dumps({**header, "format_version": 1}))
    with pytest.raises(ValueError, match="checkpoint format 1.*retrain"):
        load_run(run)


def test_missing_category_is_an_error_before_training(fake_data, tmp_path, monkeypatch):
    fake_data["models"] = [0, 3, 16, 28]  # no shotgun in training
    fitted = []
    monkeypatch.setattr("gunshot_bench.models.classical.LDAClassifier.fit",
                        lambda self, *a, **k: fitted.append(1))
    with pytest.raises(ValueError, match="no training clips of category shotgun"):
        train_run(fake_data["dir"], "lda", "two_stage", seed=0, out_dir=tmp_path / "r", progress=False)
    assert not fitted and not (tmp_path / "r").exists()


def test_torch_runs_are_deterministic_and_fine_tune_from_a_run(fake_data, tmp_path):
    over = {"max_epochs": 2, "batch_size": 8}
    a = train_run(fake_data["dir"], "cnn", "detection", 3, tmp_path / "a", over, progress=False)
    b = train_run(fake_data["dir"], "cnn", "detection", 3, tmp_path / "b", over, progress=False)
    X, _ = fake_split(ONE_PER_CATEGORY, 2, seed=0, split="validation", background=8)
    np.testing.assert_array_equal(a.model.predict_proba(X), b.model.predict_proba(X))
    history = json.loads((tmp_path / "a" / "history.json").read_text())
    assert [r["epoch"] for r in history["cnn"]] == [1, 2] and "val_accuracy" in history["cnn"][0]
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert isinstance(config["params"], dict) and config["params"]["random_state"] is not None  # hyperparameters
    assert config["n_params"] == a.n_params > 1000 and config["flops_per_clip"] > config["n_params"]
    # Model 2 of study B: fine-tuned from Model 1; with a vanishing learning rate it must stay
    # at Model 1's weights (a fresh start would not).
    tuned = train_run(fake_data["dir"], "cnn", "detection", 4, tmp_path / "m2",
                      {**over, "lr": 1e-12}, init_from=tmp_path / "a", progress=False)
    for k, v in a.model.net_.state_dict().items():
        torch.testing.assert_close(tuned.model.net_.state_dict()[k], v, atol=1e-6, rtol=0)
    assert json.loads((tmp_path / "m2" / "config.json").read_text())["init_from"].endswith("a")
    with pytest.raises(ValueError, match="cannot fine-tune"):
        train_run(fake_data["dir"], "cnn", "category", 0, tmp_path / "x", over,
                  init_from=tmp_path / "a", progress=False)


def test_cli_train(fake_data, tmp_path, capsys):
    code = main(["train", "--data", str(fake_data["dir"]), "--model", "gmm", "--task", "category",  # a fake folder: no
                 "--out", str(tmp_path / "run"), "--set", "n_components=2", "--no-verify"])       # shards to verify
    assert code == 0
    assert "validation: accuracy" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["params"]["n_components"] == 2
    assert main(["train", "--data", str(fake_data["dir"]), "--model", "svn",
                 "--out", str(tmp_path / "bad"), "--no-verify"]) == 2
    assert "did you mean svm" in capsys.readouterr().err

