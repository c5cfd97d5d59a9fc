"""Embedding models: the HEAR-style probe, its two-stage form, fine-tuning, and the entries' skipping."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from gunshot_bench.encoders import aisfx, get_encoder
from gunshot_bench.evaluation.entries import resolve_entries
from gunshot_bench.models import get, load_model
from gunshot_bench.models.embedding import PROBES
from gunshot_bench.train import load_run, train_run
from tests.encoder_fixtures import TINY, tiny_encoder, tiny_net  # noqa: F401  (fixture)
from tests.synth_clips import make_dataset
from tests.test_train import fake_data  # noqa: F401  (fixture)

torch.set_num_threads(1)
CLASSES = [0, 1, 2]


def splits(classes, n_train=6, n_val=3, n_test=4):
    return (make_dataset(n_train, classes, seed=0, tag="train"), make_dataset(n_val, classes, seed=1, tag="val"),
            make_dataset(n_test, classes, seed=2, tag="test"))


def test_probe_is_chosen_on_validation_learns_and_round_trips(tiny_encoder, tmp_path):
    (X, y), (Xv, yv), (Xt, yt) = splits(CLASSES)
    m = get("embedding_probe", encoder=TINY).fit(X, y, Xv, yv)
    assert [s["probe"] for s in m.selection_] == ["logreg", "logreg", "mlp", "mlp"]
    scores = [s["val_macro_f1"] for s in m.selection_]
    assert m.selection_[int(np.argmax(scores))]["probe"] == m.probe_kind_  # the first best on validation
    assert (m.predict(Xt) == yt).mean() >= 0.8  # 3 classes: chance is 1/3
    proba = m.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    for kind in PROBES:  # both probe kinds are stored without pickle and read back identically
        forced = get("embedding_probe", encoder=TINY, probe=kind).fit(X, y, Xv, yv)
        assert forced.probe_kind_ == kind
        loaded = load_model(forced.save(tmp_path / kind))
        assert np.array_equal(loaded.predict_proba(Xt), forced.predict_proba(Xt))


def test_probe_embeds_each_clip_once(tiny_encoder):
    (X, y), (Xv, yv), (Xt, _) = splits(CLASSES)
    get("embedding_probe", encoder=TINY).fit(X, y, Xv, yv)
    assert tiny_encoder.calls == len(X) + len(Xv)
    get("embedding_probe", encoder=TINY, random_state=1).fit(X, y, Xv, yv)  # a second seed
    get("embedding_probe", encoder=TINY).fit(X, np.where(y == 0, 0, 1), Xv, np.where(yv == 0, 0, 1))  # another task
    assert tiny_encoder.calls == len(X) + len(Xv)


def test_probe_without_validation_uses_logistic_regression(tiny_encoder):
    (X, y), _, (Xt, yt) = splits(CLASSES)
    m = get("embedding_probe", encoder=TINY).fit(X, y)
    assert m.probe_kind_ == "logreg" and len(m.selection_) == 1 and (m.predict(Xt) == yt).mean() >= 0.8


def test_two_stage_probe_routes_by_predicted_category(tiny_encoder, tmp_path):
    models = [0, 3, 4, 16, 17]  # M249 (alone: a constant sub-model), two pistols, two rifles
    (X, y), (Xv, yv), (Xt, yt) = splits(models)
    m = get("embedding_two_stage", encoder=TINY).fit(X, y, Xv, yv)
    assert set(m.stage2_) == {0, 1, 2} and type(m.stage2_[0]).__name__ == "ConstantSubModel"
    pred, proba = m.predict(Xt), m.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    cat = m.stage1_.predict(Xt)
    for c in np.unique(cat):  # every clip gets a model of its predicted category
        sub_classes = m.stage2_[int(c)].classes_
        assert np.isin(pred[cat == c], sub_classes).all()
    assert (pred == yt).mean() >= 0.6  # 5 models: chance is 0.2
    loaded = load_model(m.save(tmp_path / "two"))
    assert np.array_equal(loaded.predict(Xt), pred) and np.array_equal(loaded.predict_proba(Xt), proba)


def test_finetune_trains_a_copy_of_the_encoder_deterministically(tiny_encoder, tmp_path):
    (X, y), (Xv, yv), (Xt, _) = splits(CLASSES, n_train=4, n_val=2, n_test=2)
    params = dict(encoder=TINY, max_epochs=2, batch_size=4, encoder_lr=1e-3)
    m = get("embedding_finetune", **params).fit(X, y, Xv, yv)
    before = tiny_net().state_dict()
    moved = [k for k, v in m.module_.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("conv_block1") for k in moved)  # "all": the whole encoder trains
    assert all(torch.equal(v, before[k]) for k, v in get_encoder(TINY).module.state_dict().items())  # registry intact
    assert 1 <= len(m.history_) <= 2 and "val_loss" in m.history_[0]
    proba = m.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert np.array_equal(get("embedding_finetune", **params).fit(X, y, Xv, yv).predict_proba(Xt), proba)
    assert np.array_equal(load_model(m.save(tmp_path / "ft")).predict_proba(Xt), proba)
    top = get("embedding_finetune", **params, unfreeze=1).fit(X, y, Xv, yv)
    moved = {k.split(".")[0] for k, v in top.module_.state_dict().items()
             if not torch.equal(v, before[k]) and "running" not in k}
    assert moved == {"conv_block4"}


def test_train_run_with_an_embedding_entry(fake_data, tiny_encoder, tmp_path):
    run = tmp_path / "run"
    result = train_run(fake_data["dir"], "embedding_probe", "category", seed=0, out_dir=run,
                       overrides={"encoder": TINY}, progress=False)
    assert result.metrics["accuracy"] >= 0.8  # 5 categories: chance is 0.2
    assert load_run(run).model.probe_kind_ == result.model.probe_kind_


def test_entries_are_skipped_naming_the_extra_when_the_weights_are_missing(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv(aisfx.CHECKPOINT_ENV, str(tmp_path / "absent.pth"))
    with caplog.at_level(logging.WARNING):
        names = [e["name"] for e in resolve_entries("all", "small")]
    assert "svm" in names and not any(n.startswith("aisfx") for n in names)
    assert "aisfx_probe skipped" in caplog.text and "pip install -e '.[pretrained]'" in caplog.text
    present = tmp_path / "present.pth"
    present.write_bytes(b"")  # availability is checked without loading the weights
    monkeypatch.setenv(aisfx.CHECKPOINT_ENV, str(present))
    names = [e["name"] for e in resolve_entries("all", "small")]
    assert {"aisfx_probe", "aisfx_probe_two_stage"} <= set(names)
    assert "aisfx_finetune" not in names  # opt-in: too slow for every run
    assert [e["name"] for e in resolve_entries("aisfx_finetune", "small")] == ["aisfx_finetune"]
