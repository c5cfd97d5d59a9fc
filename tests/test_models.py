"""The registry and every model: fit, predict better than chance, save/load round trip."""

import numpy as np
import pytest
import torch

from gunshot_bench.models import available, get, load_model, register
from gunshot_bench.models.cnn import PlainCNN
from gunshot_bench.models.torch_base import count_params, flops_per_clip
from synth_clips import make_dataset

torch.set_num_threads(1)

CLASSES = [3, 5, 17]  # a subset of model ids: models must keep sklearn-style classes_
FAST_TORCH = {"max_epochs": 10, "batch_size": 8, "lr": 3e-3}


@pytest.fixture(scope="module")
def data():
    X, y = make_dataset(8, CLASSES, seed=0, tag="train")
    Xt, yt = make_dataset(6, CLASSES, seed=1, tag="test")
    return X, y, Xt, yt


def test_registry_lists_refuses_duplicates_and_suggests():
    assert available() == ["audioresnet_flat", "audioresnet_two_stage", "cnn", "embedding_finetune",
                           "embedding_finetune_two_stage", "embedding_probe", "embedding_two_stage", "gmm",
                           "hmm", "lda", "svm"]
    with pytest.raises(ValueError, match="already registered"):
        register("svm")(type("Other", (), {}))
    with pytest.raises(ValueError, match="did you mean audioresnet_flat"):
        get("audioresnet_flt")
    assert get("gmm", n_components=2).n_components == 2


def test_builtin_table_names_each_model_s_module(monkeypatch):
    """`registry.BUILTIN` (a name is looked up by importing only its module) lists exactly the
    package's registered models, each with the module that registers it; another module cannot
    take a built-in name even before the built-in's module is imported."""
    from gunshot_bench.models import registry

    available()
    ours = {n: c.__module__ for n, c in registry._REGISTRY.items()
            if c.__module__.startswith("gunshot_bench.")}
    assert ours == registry.BUILTIN
    monkeypatch.delitem(registry._REGISTRY, "cnn")  # as if its module were not imported yet
    with pytest.raises(ValueError, match="belongs to a built-in model"):
        register("cnn")(type("Other", (), {}))


@pytest.mark.parametrize("name,params,min_acc", [
    ("svm", {}, 0.9), ("lda", {}, 0.9), ("gmm", {"n_components": 2}, 0.9),
    ("hmm", {"n_states": 2, "n_iter": 5}, 0.9),
    ("audioresnet_flat", {**FAST_TORCH, "max_epochs": 6, "channels": (16,)}, 0.6),
])
def test_model_beats_chance_and_round_trips(name, params, min_acc, data, tmp_path):
    X, y, Xt, yt = data
    model = get(name, random_state=0, **params).fit(X, y, Xt, yt)
    np.testing.assert_array_equal(model.classes_, CLASSES)
    pred = model.predict(Xt)
    assert set(pred) <= set(CLASSES)
    assert (pred == yt).mean() >= min_acc  # chance is 1/3
    proba = model.predict_proba(Xt)
    assert proba.shape == (len(Xt), 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(model.classes_[proba.argmax(1)], pred)
    model.save(tmp_path / name)
    loaded = load_model(tmp_path / name)
    assert type(loaded) is type(model)
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()}
    assert loaded.get_params() == params  # JSON has no tuples: they come back as lists
    np.testing.assert_array_equal(loaded.predict_proba(Xt), proba)


def test_torch_training_is_deterministic_by_seed(data):
    X, y, Xt, yt = data
    params = {"max_epochs": 1, "batch_size": 8}
    a = get("cnn", random_state=7, **params).fit(X, y, Xt, yt)
    b = get("cnn", random_state=7, **params).fit(X, y, Xt, yt)
    c = get("cnn", random_state=8, **params).fit(X, y, Xt, yt)
    for k, v in a.net_.state_dict().items():
        assert torch.equal(v, b.net_.state_dict()[k]), k
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert a.history_ == b.history_
    assert not torch.equal(a.net_.classifier[-1].weight, c.net_.classifier[-1].weight)


def test_cnn_restores_best_validation_checkpoint_and_stops_on_validation(data, tmp_path):
    X, y, Xt, yt = data
    model = get("cnn", random_state=1, max_epochs=30, batch_size=8, lr=3e-3,
                early_stopping_patience=2).fit(X, y, Xt, yt)
    val_acc = [r["val_accuracy"] for r in model.history_]
    best = int(np.argmax(val_acc))  # first epoch with the best validation accuracy
    # stopped exactly `patience` epochs after the last validation-accuracy gain
    assert len(val_acc) == best + 1 + 2 < 30
    assert (model.predict(Xt) == yt).mean() == pytest.approx(max(val_acc))
    assert max(val_acc) >= 0.6  # chance is 1/3
    assert all("train_loss" in r and "lr" in r for r in model.history_)
    model.save(tmp_path / "cnn")
    np.testing.assert_array_equal(load_model(tmp_path / "cnn").predict_proba(Xt), model.predict_proba(Xt))


def test_plain_cnn_outputs_logits_not_probabilities():
    net = PlainCNN(3).eval()
    assert not any(isinstance(m, torch.nn.Softmax) for m in net.modules())
    out = net(torch.randn(2, 1, 512, 345) * 3)
    assert not torch.allclose(out.sum(1), torch.ones(2))


def test_flops_counter_is_exact_for_known_layers():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 8 * 8, 5))
    assert flops_per_clip(net, (1, 8, 8)) == 2 * (8 * 8 * 4 * 9 + 256 * 5)
    assert count_params(net) == (4 * 9 + 4) + (256 * 5 + 5)


def test_audioresnet_complexity_is_reported(data):
    X, y, Xt, yt = data
    model = get("audioresnet_flat", max_epochs=1, batch_size=8).fit(X, y)
    cx = model.complexity()
    assert cx["params"] == sum(p.numel() for p in model.net_.parameters())
    # the default's 7x7 stride-4 stem alone: 128 x 87 outputs x 16 channels x 49 taps
    assert cx["flops_per_clip"] > 2 * 128 * 87 * 16 * 49
    assert cx["flops_per_clip"] < 1e8  # small enough for CPU
    classic = get("audioresnet_flat", stem_stride=2, max_epochs=1, batch_size=8).fit(X, y)
    # a stride-2 stem has 4x the stem's outputs, and the same parameters
    assert classic.complexity()["params"] == cx["params"]
    assert classic.complexity()["flops_per_clip"] > cx["flops_per_clip"] + 3 * 2 * 128 * 87 * 16 * 49


@pytest.mark.parametrize("name", ["gmm", "hmm"])
def test_likelihood_models_survive_repeated_silent_frames(name, data):
    # Exact digital silence repeats one MFCC frame many times; unscaled float32 covariances
    # then collapse (a crash seen on the simulated corpus).
    X, y, Xt, yt = data
    X = X.copy()
    X[:, 44100:] = 0.0
    model = get(name, random_state=0).fit(X, y)
    assert (model.predict(Xt) == yt).mean() >= 0.6


def test_folded_inference_network_matches_the_plain_one(data):
    X, y, Xt, yt = data
    model = get("audioresnet_flat", channels=(16, 32), max_epochs=1, batch_size=8).fit(X, y)
    for m in model.net_.modules():  # make the batch-norm statistics far from identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2.0)
    model._inference_net = None
    fused = model.inference_net()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    xb = model._batch(model.features(Xt[:4]))
    with torch.no_grad():
        torch.testing.assert_close(fused(xb), model.net_(xb), atol=1e-4, rtol=1e-4)
