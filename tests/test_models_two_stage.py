"""The two-stage model: routing by predicted category, stage bounds, labels, checkpoints."""

import re

import numpy as np
import pytest
import torch

from gunshot_bench import taxonomy
from gunshot_bench.features import log_stft
from gunshot_bench.models import get, load_model
from gunshot_bench.models.two_stage import MODEL_CATEGORY, ConstantSubModel, label_text
from synth_clips import make_dataset

torch.set_num_threads(1)

# Glock 17, Glock 19 (pistol); AK-47, AK-12 (rifle); Benelli Nova (shotgun, alone: constant)
CLASSES = [3, 4, 16, 17, 24]


@pytest.fixture(scope="module")
def fitted():
    X, y = make_dataset(6, CLASSES, seed=0, tag="train")
    Xt, yt = make_dataset(4, CLASSES, seed=1, tag="test")
    model = get("audioresnet_two_stage", channels=(16, 16), max_epochs=6, batch_size=8,
                lr=3e-3, random_state=0).fit(X, y, Xt, yt)
    return model, Xt, yt


def test_category_table_matches_taxonomy():
    assert MODEL_CATEGORY.tolist() == [taxonomy.category_index(taxonomy.category_of(m))
                                       for m in taxonomy.MODELS]
    assert np.bincount(MODEL_CATEGORY).tolist() == [3, 13, 8, 4, 4]
    assert label_text(3) == "Pistol - Glock 17"


def test_structure_and_constant_sub_model(fitted):
    model, _, _ = fitted
    np.testing.assert_array_equal(model.classes_, CLASSES)
    np.testing.assert_array_equal(model.stage1_.classes_, [1, 2, 3])
    assert isinstance(model.stage2_[3], ConstantSubModel)
    np.testing.assert_array_equal(model.stage2_[1].classes_, [3, 4])
    np.testing.assert_array_equal(model.stage2_[2].classes_, [16, 17])
    assert set(model.history_) == {"category", "pistol", "rifle"}


def test_each_clip_goes_to_the_sub_model_of_its_predicted_category(fitted):
    model, Xt, yt = fitted
    cat_pred = model.predict_category(Xt)
    cat, _, routed, _ = model.route(Xt)
    np.testing.assert_array_equal(cat, cat_pred)
    np.testing.assert_array_equal(MODEL_CATEGORY[routed], cat_pred)
    for c in np.unique(cat_pred):  # the routed answer is that sub-model's own answer
        idx = cat_pred == c
        sub = model.stage2_[int(c)]
        feats = model.stage1_.features(Xt[idx])
        np.testing.assert_array_equal(routed[idx], sub.classes_[sub.predict_proba_features(feats).argmax(1)])
    stage1_acc = (cat_pred == MODEL_CATEGORY[yt]).mean()
    assert (routed == yt).mean() <= stage1_acc
    assert stage1_acc > 0.5  # chance is 1/3


def test_reported_label_is_the_most_probable_product_of_the_stages(fitted):
    """Issue 11: the top label is argmax of p(category) * p(model | category), its probability the
    product, and the alternatives follow in descending probability."""
    model, Xt, _ = fitted
    F = log_stft(Xt)  # float32, as predict_proba computes them
    p_cat = model.stage1_.predict_proba_features(F)
    p_sub = {int(c): model.stage2_[int(c)].predict_proba_features(F) for c in model.stage1_.classes_}
    pred = model.predict(Xt)
    ranked = model.ranked_labels(Xt, top_k=4)
    for i in range(len(Xt)):
        product = {}
        for j, c in enumerate(model.stage1_.classes_):
            for m, p in zip(model.stage2_[int(c)].classes_, p_sub[int(c)][i]):
                product[int(m)] = float(p_cat[i, j] * p)
        best = max(product, key=product.get)
        assert pred[i] == best
        assert ranked[i][0][0] == best and ranked[i][0][1] == pytest.approx(product[best], rel=1e-5)
        probs = [p for _, p in ranked[i]]
        assert probs == sorted(probs, reverse=True)
        assert [m for m, _ in ranked[i]] == sorted(product, key=lambda m: -product[m])[:4]


def test_reported_label_differs_from_routing_when_stage_one_is_split(fitted, monkeypatch):
    """A split stage 1 (0.5 pistol / 0.5 rifle) and a sure rifle sub-model beat an unsure pistol one:
    study A's routing would report a pistol at p = 0.25 beside a rifle at p = 0.5."""
    model, Xt, _ = fitted
    cats = list(model.stage1_.classes_)
    split = np.zeros(len(cats), np.float32)
    split[cats.index(1)] = 0.5000001  # stage 1 argmax: pistol, barely
    split[cats.index(2)] = 0.4999999
    monkeypatch.setattr(model.stage1_, "predict_proba_features", lambda F: np.tile(split, (len(F), 1)))
    monkeypatch.setattr(model.stage2_[1], "predict_proba_features",
                        lambda F: np.tile(np.float32([0.5, 0.5]), (len(F), 1)))
    monkeypatch.setattr(model.stage2_[2], "predict_proba_features",
                        lambda F: np.tile(np.float32([0.0, 1.0]), (len(F), 1)))
    assert set(model.route(Xt)[2]) <= {3, 4}  # routed into the pistol sub-model
    assert set(model.predict(Xt)) == {17}  # the most probable: AK-12 at ~0.5
    top = model.describe(Xt[:1], top_k=3)[0]
    assert top[0][0] == label_text(17) and top[0][1] == pytest.approx(0.5, abs=1e-6)
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)


def test_forced_stage_one_decision_routes_everything_to_one_sub_model(fitted, monkeypatch):
    model, Xt, _ = fitted
    rifle = list(model.stage1_.classes_).index(2)
    forced = lambda F: np.eye(3, dtype=np.float32)[[rifle] * len(F)]  # noqa: E731
    monkeypatch.setattr(model.stage1_, "predict_proba_features", forced)
    assert set(model.predict(Xt)) <= {16, 17}
    assert set(model.predict_category(Xt)) == {2}
    proba = model.predict_proba(Xt)
    assert np.all(proba[:, [0, 1, 4]] == 0)  # all mass inside the rifle sub-model
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)


def test_probabilities_and_descriptions(fitted):
    model, Xt, _ = fitted
    proba = model.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    pred = model.predict(Xt)
    described = model.describe(Xt, top_k=3)
    for i, rows in enumerate(described):
        assert rows[0][0] == label_text(pred[i])
        assert rows[0][1] == pytest.approx(proba[i].max(), rel=1e-6)
        assert len(rows) == 3 and len({r[0] for r in rows}) == 3
        assert [p for _, p in rows] == sorted((p for _, p in rows), reverse=True)
        for text, p in rows:
            assert re.fullmatch(r"(Machine gun|Pistol|Rifle|Shotgun|Submachine gun) - .+", text)
            assert 0.0 <= p <= 1.0


def test_round_trip_gives_identical_predictions(fitted, tmp_path):
    model, Xt, _ = fitted
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(Xt), model.predict(Xt))
    np.testing.assert_array_equal(loaded.predict_proba(Xt), model.predict_proba(Xt))
    assert isinstance(loaded.stage2_[3], ConstantSubModel)
    assert loaded.stats_ == model.stats_


def test_labels_must_be_model_ids():
    X, _ = make_dataset(1, [0, 1], seed=0)
    with pytest.raises(ValueError, match="model ids"):
        get("audioresnet_two_stage").fit(X, np.array([0, 40]))
