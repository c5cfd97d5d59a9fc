"""Reference rows: predictors that train nothing, shown on every task table to say what a score means.

A reference is a function of labels only (never audio)::

    fn(train_df, y_train, test_df, n_classes, seed) -> probabilities [n_test, n_classes]

`train_df`/`test_df` are the rows' columns (no waveforms), `y_train` the task's label ids of
the training rows. The leaderboard predicts the argmax of each row and, for detection, uses
column 1 as the gunshot score. Random references return one-hot draws (as scikit-learn's
`DummyClassifier(strategy="stratified").predict_proba` does), so their argmax is the draw.

Registering one more reference is one entry in `REFERENCES`, as the simulator's oracle shows
(`gunshot_bench.sim.oracle`); `Reference.tasks` and `Reference.needs_column` say where it applies.

Example:
    >>> import numpy as np, pandas as pd
    >>> p = REFERENCES["majority"].fn(pd.DataFrame(index=range(3)), np.array([1, 1, 0]),
    ...                               pd.DataFrame(index=range(2)), 3, 0)
    >>> p.argmax(1).tolist()
    [1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.dummy import DummyClassifier

from gunshot_bench.rng import derive_rng
from gunshot_bench.sim.oracle import oracle_proba

ReferenceFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Reference:
    """A registered reference: its function and one line for the table caption."""

    fn: ReferenceFn
    description: str
    #: the tasks it applies to (None: every task)
    tasks: tuple[str, ...] | None = None
    #: a column that must hold a non-empty value in the training rows (None: none needed)
    needs_column: str | None = None

    def applies(self, task_name: str, train_df) -> bool:
        """Whether this reference means something on `task_name` with these training rows."""
        if self.tasks is not None and task_name not in self.tasks:
            return False
        if self.needs_column is None:
            return True
        return self.needs_column in train_df and bool((train_df[self.needs_column].fillna("") != "").any())


def _one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(labels), n_classes), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _dummy(strategy: str, y_train: np.ndarray, n_test: int, n_classes: int, seed: int) -> np.ndarray:
    """scikit-learn's DummyClassifier, its columns spread over all `n_classes` labels."""
    state = int(derive_rng(seed, "reference", strategy).integers(2**31))
    dummy = DummyClassifier(strategy=strategy, random_state=state).fit(np.zeros((len(y_train), 1)), y_train)
    proba = dummy.predict_proba(np.zeros((n_test, 1)))
    out = np.zeros((n_test, n_classes), np.float32)
    out[:, np.asarray(dummy.classes_, dtype=np.int64)] = proba
    return out


def chance(train_df, y_train, test_df, n_classes: int, seed: int) -> np.ndarray:
    """Uniform over all `n_classes` labels (a one-hot draw per clip): what guessing scores."""
    rng = derive_rng(seed, "reference", "chance")
    return _one_hot(rng.integers(0, n_classes, len(test_df)), n_classes)


def majority(train_df, y_train, test_df, n_classes: int, seed: int) -> np.ndarray:
    """Always the most frequent label of the training split."""
    return _dummy("most_frequent", np.asarray(y_train, dtype=np.int64), len(test_df), n_classes, seed)


def stratified(train_df, y_train, test_df, n_classes: int, seed: int) -> np.ndarray:
    """A label drawn per clip from the training split's label frequencies (one-hot draws)."""
    return _dummy("stratified", np.asarray(y_train, dtype=np.int64), len(test_df), n_classes, seed)


#: Every reference row of the leaderboard, in table order.
REFERENCES: dict[str, Reference] = {
    "chance": Reference(chance, "uniform guess over all labels"),
    "majority": Reference(majority, "always the training split's most frequent label"),
    "stratified": Reference(stratified, "random guess with the training split's label frequencies"),
    # Not on detection: there, whether a row has shot parameters at all is the label itself.
    "oracle": Reference(oracle_proba, "ceiling: a forest on the simulator's listener-recoverable generation "
                        "parameters (docs/simulator.md), never the label", tasks=("category", "model", "two_stage"),
                        needs_column="sim_params"),
}

#: The reference the tables compare every entry against ("rows not above the majority row").
BASELINE_REFERENCE = "majority"


def reference_predictions(name: str, train_df, y_train, test_df, n_classes: int, seed: int):
    """(predicted label ids, probabilities) of reference `name`; checks the shape it returns."""
    if name not in REFERENCES:
        raise ValueError(f"unknown reference {name!r} (known: {', '.join(REFERENCES)})")
    proba = np.asarray(REFERENCES[name].fn(train_df, np.asarray(y_train), test_df, n_classes, seed),
                       dtype=np.float32)
    if proba.shape != (len(test_df), n_classes):
        raise ValueError(f"reference {name!r} returned shape {proba.shape}, expected "
                         f"({len(test_df)}, {n_classes})")
    return proba.argmax(1).astype(np.int64), proba
