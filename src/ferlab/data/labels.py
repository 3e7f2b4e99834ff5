"""Label sets: one canonical class order per set, defined once, and explicit mappings.

Every class name of every set maps to one *concept* (a FER2013-style word such as
``"angry"``); two sets map onto each other through the concepts they share. A class
with no counterpart (FERPlus ``contempt`` in FER2013) maps to ``-1``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ferlab.checks import check_choice

FER2013_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER2013's order: ``emotion`` code i in fer2013.csv is ``FER2013_CLASSES[i]``."""

FERPLUS_CLASSES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
"""FERPlus's order: the vote columns of fer2013new.csv (AffectNet's codes 0-7 map onto it)."""

LABEL_SETS: dict[str, tuple[str, ...]] = {"fer2013": FER2013_CLASSES, "ferplus": FERPLUS_CLASSES}

_CONCEPT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "angry": ("angry", "anger", "an", "ang"),
    "disgust": ("disgust", "disgusted", "di", "dis"),
    "fear": ("fear", "fearful", "afraid", "scared", "fe"),
    "happy": ("happy", "happiness", "joy", "ha", "hap"),
    "sad": ("sad", "sadness", "sa"),
    "surprise": ("surprise", "surprised", "su", "sur"),
    "neutral": ("neutral", "ne", "neu", "calm"),
    "contempt": ("contempt", "co", "con"),
}
_CONCEPT_OF: dict[str, str] = {word: concept for concept, words in _CONCEPT_SYNONYMS.items() for word in words}


def concept(name: str) -> str | None:
    """Return the concept of a class name (``"Happiness"`` → ``"happy"``), or None if unknown."""
    return _CONCEPT_OF.get(name.strip().lower())


def label_set(name: str) -> tuple[str, ...]:
    """Return the classes of a named label set (``"fer2013"`` or ``"ferplus"``)."""
    return LABEL_SETS[check_choice(name, tuple(LABEL_SETS), "label set")]


def class_mapping(source: Iterable[str], target: Iterable[str]) -> np.ndarray:
    """Index map from one class list to another: ``out[i]`` is the target index of source class i, or -1."""
    target_index = {concept(name): i for i, name in enumerate(target) if concept(name) is not None}
    return np.array([target_index.get(concept(name), -1) for name in source], dtype=np.int64)


def map_labels(labels: np.ndarray, source: Iterable[str], target: Iterable[str]) -> np.ndarray:
    """Map integer labels from one class list to another; unmapped classes (and -1 labels) become -1."""
    mapping = class_mapping(source, target)
    labels = np.asarray(labels, dtype=np.int64)
    return np.where(labels >= 0, mapping[np.clip(labels, 0, None)], -1)


def shared_classes(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """The concepts two class lists have in common, in the order of ``a``."""
    concepts_b = {concept(name) for name in b}
    return [concept(name) for name in a if concept(name) in concepts_b]
