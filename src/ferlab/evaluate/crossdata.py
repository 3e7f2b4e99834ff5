"""Scoring a model on a dataset whose label set differs from the model's (cross-dataset).

When the class lists differ (a FER2013 model on FERPlus data, or the reverse), labels are
mapped onto the model's classes by meaning (`ferlab.data.labels.map_labels`):

* images whose class has no counterpart among the model's classes are dropped;
* the model's logits are restricted to the classes the dataset has, so the prediction
  is the argmax over the shared classes only;
* only the shared classes are scored, named and ordered as the model has them.

Identical class lists take the plain path: every class is scored, nothing is mapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ferlab.data.labels import class_mapping, concept, map_labels
from ferlab.errors import DataError


@dataclass(frozen=True)
class LabelAlignment:
    """How dataset labels and model logits meet in one scoring space.

    Attributes:
        dataset_classes: the dataset's class names.
        model_classes: the model's class names (its logit order).
        classes: the scored classes, model names in model order.
        logit_columns: the model output column of each scored class.
        label_map: dataset class index → scored class index, -1 where it has no counterpart.
    """

    dataset_classes: tuple[str, ...]
    model_classes: tuple[str, ...]
    classes: tuple[str, ...]
    logit_columns: np.ndarray
    label_map: np.ndarray

    @property
    def cross_dataset(self) -> bool:
        """True when the dataset's label set differs from the model's."""
        return self.dataset_classes != self.model_classes

    def map(self, labels: np.ndarray) -> np.ndarray:
        """Dataset labels → scored class indices; -1 for unlabeled images and classes without counterpart."""
        labels = np.asarray(labels, dtype=np.int64)
        return np.where(labels >= 0, self.label_map[np.clip(labels, 0, None)], -1)

    def summary(self, labels: np.ndarray) -> dict[str, Any]:
        """What the mapping did to ``labels``: scored classes and images dropped per unmatched class."""
        unmatched = np.flatnonzero(self.label_map < 0)
        return {
            "dataset_classes": list(self.dataset_classes),
            "model_classes": list(self.model_classes),
            "scored_classes": list(self.classes),
            "dropped_images": int(np.isin(labels, unmatched).sum()),
            "dropped_by_class": {self.dataset_classes[i]: int((labels == i).sum()) for i in unmatched},
        }


def align_labels(dataset_classes: Sequence[str], model_classes: Sequence[str]) -> LabelAlignment:
    """The `LabelAlignment` of a dataset's classes with a model's (see the module docstring).

    Raises:
        DataError: a class name has no known meaning, or the two lists share fewer than two classes.
    """
    dataset_classes, model_classes = tuple(dataset_classes), tuple(model_classes)
    if dataset_classes == model_classes:
        identity = np.arange(len(model_classes))
        return LabelAlignment(dataset_classes, model_classes, model_classes, identity, identity)
    unknown = [name for name in (*dataset_classes, *model_classes) if concept(name) is None]
    if unknown:
        raise DataError(
            f"cannot map the dataset's classes ({', '.join(dataset_classes)}) onto the model's "
            f"({', '.join(model_classes)}): no known meaning for {', '.join(map(repr, unknown))}"
        )
    logit_columns = np.flatnonzero(class_mapping(model_classes, dataset_classes) >= 0)
    if logit_columns.size < 2:
        raise DataError(
            f"the dataset's classes ({', '.join(dataset_classes)}) share {logit_columns.size} with the model's "
            f"({', '.join(model_classes)}); scoring needs at least two"
        )
    position = np.full(len(model_classes) + 1, -1, dtype=np.int64)  # last slot: -1 stays -1
    position[logit_columns] = np.arange(logit_columns.size)
    label_map = position[map_labels(np.arange(len(dataset_classes)), dataset_classes, model_classes)]
    classes = tuple(model_classes[i] for i in logit_columns)
    return LabelAlignment(dataset_classes, model_classes, classes, logit_columns, label_map)
