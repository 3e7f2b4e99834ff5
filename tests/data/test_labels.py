"""Label sets and the explicit mapping between them."""

import numpy as np
import pytest

from ferlab.data.labels import (
    FER2013_CLASSES,
    FERPLUS_CLASSES,
    class_mapping,
    concept,
    label_set,
    map_labels,
    shared_classes,
)
from ferlab.errors import OptionError


def test_canonical_orders() -> None:
    assert FER2013_CLASSES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert FERPLUS_CLASSES == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def test_fer2013_to_ferplus_and_back() -> None:
    assert class_mapping(FER2013_CLASSES, FERPLUS_CLASSES).tolist() == [4, 5, 6, 1, 3, 2, 0]
    assert class_mapping(FERPLUS_CLASSES, FER2013_CLASSES).tolist() == [6, 3, 5, 4, 0, 1, 2, -1]
    labels = np.arange(7)
    there = map_labels(labels, FER2013_CLASSES, FERPLUS_CLASSES)
    assert np.array_equal(map_labels(there, FERPLUS_CLASSES, FER2013_CLASSES), labels)
    assert map_labels(np.array([7, -1]), FERPLUS_CLASSES, FER2013_CLASSES).tolist() == [-1, -1]


def test_names_and_shared_classes() -> None:
    assert concept("Happiness") == concept("happy") == "happy"
    assert concept("bored") is None
    assert shared_classes(FERPLUS_CLASSES, FER2013_CLASSES) == [
        "neutral",
        "happy",
        "surprise",
        "sad",
        "angry",
        "disgust",
        "fear",
    ]
    with pytest.raises(OptionError, match="unknown label set 'kdef'"):
        label_set("kdef")


def test_unknown_names_map_to_nothing() -> None:
    assert class_mapping(("bored", "happy"), ("tired", "happiness")).tolist() == [-1, 1]
