"""The tasks a model is trained and evaluated on: which dataset config, which label column.

| task | config | label | classes |
|---|---|---|---|
| `category` | clean | `category` | 5 categories |
| `model` | clean | `model` (rows with model == -1 excluded) | 32 models |
| `two_stage` | clean | `model`, as `model`, for the two-stage model | 32 models |
| `detection` | detection | `is_gunshot` | non-gunshot, gunshot |

Example:
    >>> get_task("category").label_names[1]
    'pistol'
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gunshot_bench import taxonomy
from gunshot_bench.errors import UserError

if TYPE_CHECKING:  # only annotated: `predict` on an ONNX export reads tasks without pandas
    import pandas as pd


@dataclass(frozen=True)
class Task:
    """A classification task over one dataset config.

    Attributes:
        name: registry name.
        config: dataset config the rows come from ("clean", "detection", ...).
        label_column: DataFrame column holding the integer (or bool) label.
        label_names: name of each label id (index = id).
        display_names: human-readable name of each label id ("Pistol - Glock 17").
        description: one line for tables and docs.
    """

    name: str
    config: str
    label_column: str
    label_names: tuple[str, ...]
    display_names: tuple[str, ...]
    description: str

    def __post_init__(self):
        if len(self.label_names) != len(self.display_names) or len(self.label_names) < 2:
            raise ValueError(f"task {self.name}: needs >= 2 labels with one display name each")

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def select(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(boolean row mask, integer labels of the selected rows) for this task.

        Rows whose label is unknown (-1) are left out: a clip without a model label cannot
        train or score a model classifier.
        """
        if self.label_column not in frame.columns:
            raise UserError(f"task {self.name}: the data has no column {self.label_column!r} "
                             f"(columns: {', '.join(map(str, frame.columns))})")
        labels = frame[self.label_column].to_numpy()
        labels = labels.astype(np.int64)
        mask = (labels >= 0) & (labels < self.n_classes)
        return mask, labels[mask]

    def categories_of(self, labels: np.ndarray) -> np.ndarray | None:
        """Category ids of labels (None for detection, which has no categories)."""
        if self.label_column == "category":
            return np.asarray(labels, dtype=np.int64)
        if self.label_column == "model":
            from gunshot_bench.models.two_stage import MODEL_CATEGORY

            return MODEL_CATEGORY[np.asarray(labels, dtype=np.int64)]
        return None


def _model_display() -> tuple[str, ...]:
    return tuple(taxonomy.display_name(taxonomy.category_of(m), m) for m in taxonomy.MODELS)


TASKS: dict[str, Task] = {
    "category": Task("category", "clean", "category", taxonomy.CATEGORIES,
                     taxonomy.CATEGORY_NAMES, "5-way firearm category"),
    "model": Task("model", "clean", "model", taxonomy.MODELS, _model_display(),
                  "32-way firearm model (flat)"),
    "two_stage": Task("two_stage", "clean", "model", taxonomy.MODELS, _model_display(),
                      "32-way firearm model, for the two-stage model (category, then model)"),
    "detection": Task("detection", "detection", "is_gunshot", ("non_gunshot", "gunshot"),
                      ("Not a gunshot", "Gunshot"), "gunshot vs non-gunshot (study B)"),
}


def get_task(name: str) -> Task:
    """The task called `name`; unknown names get close-match suggestions."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=2, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown task {name!r}{hint} (tasks: {', '.join(TASKS)})")
    return TASKS[name]
