"""The oracle ceiling: how well the simulator's own generation parameters identify each label.

A classifier (scikit-learn's RandomForestClassifier, 300 trees) is trained on the parameters a
listener could in principle recover from a clip (`recording.ORACLE_KEYS`: blast energy and
duration, N-wave present, action, bolt, cyclic rate, mechanical modes, decay and cycle time,
muzzle device), read from the dataset's `sim_params` column and blurred by the resolution at
which a listener could recover each (`RESOLUTION`), on the same splits as the models.
It never sees the label, the model id, the category, the file path or the recording id. Its
accuracy is a ceiling for audio models on the simulated corpus; the label pairs it confuses are
physically near-indistinguishable in the simulator (docs/simulator.md).

Rows not from the simulator (`sim_params` "") get all-missing features, which the classifier
handles natively (it learns nothing from them but the training prior).

`python benchmarks/oracle_ceiling.py DATASET` prints its accuracy and confusions per task.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import confusion_matrix

from gunshot_bench.rng import derive_rng
from gunshot_bench.sim.recording import ORACLE_KEYS

#: Relative resolution (SD) at which a listener, or a measurement on a 2 s clip, could recover each
#: number (assumptions, docs/simulator.md): pitch of a short damped click ~3% (frequency
#: discrimination degrades for tones under ~50 ms: Moore, "An Introduction to the Psychology of
#: Hearing", 2012), 1-2 ms gap detection on a ~30-80 ms cycle (~5%), loudness ~1 dB of a blast
#: whose peak grows as W^(1/3) (~35% on W), positive-phase duration ~10%, burst rate ~2%,
#: ringing decay ~20%. Without it the forest would match exact figures no ear could hear.
RESOLUTION = {"blast_tnt_equivalent_g": 0.35, "blast_duration_ms": 0.10, "cyclic_rate_rpm": 0.02,
              "mech_mode_hz": 0.03, "mech_loss_factor": 0.20, "mech_cycle_ms": 0.05}
#: Categorical parameters, one-hot encoded; the rest are numbers (None/"" -> NaN).
CATEGORICAL = {"action": ("semi_auto", "select_fire", "full_auto", "pump", "revolver", "bolt", "none"),
               "bolt": ("closed", "open", "manual", "revolver", "none"),
               "muzzle_device": ("bare", "flash_hider", "compensator", "brake", "suppressor", "none")}


def _number(value) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def oracle_features(frame: pd.DataFrame, rng: np.random.Generator | None = None) -> np.ndarray:
    """[n_rows, n_features] float matrix of the recoverable parameters of each row (NaN = absent).

    Only the `sim_params` column is read: labels and ids cannot leak in. With `rng`, each number
    is blurred by its `RESOLUTION` (independently per row: each segment is its own observation).
    """
    column = frame["sim_params"] if "sim_params" in frame.columns else pd.Series([""] * len(frame))
    rows = []
    for text in column.fillna("").astype(str):
        params = json.loads(text) if text else {}
        row = []
        for key in ORACLE_KEYS:
            value = params.get(key)
            if key in CATEGORICAL:
                row.extend(math.nan if not params else float(value == option) for option in CATEGORICAL[key])
            else:
                number = _number(value)
                if rng is not None and key in RESOLUTION:
                    number *= float(np.exp(RESOLUTION[key] * rng.standard_normal()))
                row.append(number)
        rows.append(row)
    width = sum(len(CATEGORICAL.get(k, (0,))) for k in ORACLE_KEYS)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width)


def oracle_proba(train_df: pd.DataFrame, y_train: np.ndarray, test_df: pd.DataFrame, n_classes: int,
                 seed: int) -> np.ndarray:
    """Class probabilities [n_test, n_classes] of the oracle trained on `train_df`'s parameters.

    Args:
        train_df, test_df: dataset rows (as from `gunshot_bench.dataset.read.load_arrays`).
        y_train: the task's integer labels of `train_df`'s rows.
        n_classes: the task's number of classes; classes absent from training get probability 0.
        seed: seeds the classifier.
    """
    y_train = np.asarray(y_train, dtype=np.int64)
    if len(y_train) != len(train_df):
        raise ValueError(f"oracle: {len(y_train)} labels for {len(train_df)} training rows")
    out = np.zeros((len(test_df), n_classes))
    classes = np.unique(y_train)
    if classes.size == 0:
        return np.full((len(test_df), n_classes), 1.0 / n_classes)
    if classes.size == 1:
        out[:, classes[0]] = 1.0
        return out
    # A forest: scale-free, handles missing values natively, and fits from a few rows per class.
    clf = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    with warnings.catch_warnings():
        # With a few rows per class (the `tiny` preset: 3 per model) every one of the 300 trees
        # warns that y "could represent a regression problem"; the labels are classes here.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        clf.fit(oracle_features(train_df, derive_rng(seed, "oracle", "train")), y_train)
    if len(test_df):
        out[:, clf.classes_] = clf.predict_proba(oracle_features(test_df, derive_rng(seed, "oracle", "test")))
    return out


def confused_pairs(y_true: np.ndarray, y_pred: np.ndarray, names, top: int = 10) -> list[tuple[str, str, int, int]]:
    """The most confused (true, predicted) label pairs: (true, predicted, count, rows of true)."""
    labels = np.arange(len(names))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    np.fill_diagonal(cm, 0)
    order = np.argsort(-cm, axis=None)[:top]
    support = np.bincount(np.asarray(y_true, dtype=np.int64), minlength=len(names))
    return [(names[i], names[j], int(cm[i, j]), int(support[i]))
            for i, j in zip(*np.unravel_index(order, cm.shape)) if cm[i, j] > 0]
