"""`FaceDataset`: the one in-memory form every reader returns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ferlab.data.labels import map_labels
from ferlab.errors import DataError, OptionError

SPLITS: tuple[str, ...] = ("train", "val", "test", "all")
_SPLIT_ALIASES = {
    "training": "train",
    "publictest": "val",
    "valid": "val",
    "validation": "val",
    "privatetest": "test",
    "full": "all",
}


class SplitUnavailable(DataError):
    """The dataset exists but has no such split (e.g. RAF-DB has no ``val``)."""


def normalize_split(split: str) -> str:
    """Canonical split name: ``"Training"`` → ``"train"``, ``"PublicTest"`` → ``"val"``, ..."""
    key = split.strip().lower()
    canonical = _SPLIT_ALIASES.get(key, key)
    if canonical not in SPLITS:
        raise OptionError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    return canonical


@dataclass(frozen=True)
class Problem:
    """A record a reader skipped: which file (and line of it), and why."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass
class FaceDataset:
    """Face images and their labels, held as arrays.

    Attributes:
        images: uint8, ``(N, H, W)`` grayscale or ``(N, H, W, 3)`` RGB.
        labels: int64 ``(N,)``, indices into ``classes``; -1 where the source has no label.
        classes: class names in the label set's canonical order (see `ferlab.data.labels`).
        name: reader name (``"fer2013"``, ``"ferplus"``, ...).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
        ids: per-image identifiers (row number, FERPlus image name, or file path).
        targets: float32 ``(N, len(classes))`` soft targets (FERPlus vote distributions), or None.
        target_mode: how ``targets`` were made (FERPlus: majority, probability, crossentropy).
        votes: raw annotator votes where the source has them (FERPlus: ``(N, 10)`` incl. unknown/NF).
        extra: other per-image arrays a source provides (AffectNet valence/arousal, landmarks).
        problems: records that were skipped while reading, each naming its file and reason.
        transform: applied to each image by ``__getitem__`` (e.g. a torchvision v2 transform).
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str
    split: str
    ids: np.ndarray
    targets: np.ndarray | None = None
    target_mode: str | None = None
    votes: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    transform: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            raise DataError(
                f"{self.name}/{self.split}: images must be uint8 (N,H,W) or (N,H,W,3), "
                f"got {self.images.dtype} {self.images.shape}"
            )
        for what, array in (
            ("labels", self.labels),
            ("ids", self.ids),
            ("targets", self.targets),
            ("votes", self.votes),
            *self.extra.items(),
        ):
            if array is not None and len(array) != n:
                raise DataError(f"{self.name}/{self.split}: {len(array)} {what} for {n} images")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.labels[index])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` of every image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def channels(self) -> int:
        """1 for grayscale, 3 for RGB."""
        return 1 if self.images.ndim == 3 else 3

    def class_counts(self) -> dict[str, int]:
        """Number of images per class, in class order (unlabeled images are not counted)."""
        counts = Counter(self.labels.tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(self.classes)}

    def class_prior(self) -> np.ndarray:
        """The share of each class among what training compares with, float64 ``(len(classes),)``
        summing to 1: the mean soft target when the dataset has ``targets``, else the label
        frequencies (unlabeled images left out). Stored in model files as the training prior."""
        if self.targets is not None:
            prior = self.targets.astype(np.float64).mean(axis=0)
        else:
            prior = np.bincount(self.labels[self.labels >= 0], minlength=len(self.classes)).astype(np.float64)
        return prior / prior.sum()

    def subset(self, indices: np.ndarray) -> FaceDataset:
        """A new dataset holding only the images at ``indices`` (problems are kept)."""
        take = lambda array: None if array is None else array[indices]  # noqa: E731
        return replace(
            self,
            images=self.images[indices],
            labels=self.labels[indices],
            ids=self.ids[indices],
            targets=take(self.targets),
            votes=take(self.votes),
            extra={k: v[indices] for k, v in self.extra.items()},
            problems=list(self.problems),
        )


def only_classes(dataset: FaceDataset, classes: Sequence[str]) -> FaceDataset:
    """The images of ``dataset`` labelled with one of ``classes`` (names of its own classes)."""
    unknown = [name for name in classes if name not in dataset.classes]
    if unknown or not classes:
        raise DataError(
            f"{dataset.name}: classes {list(classes)} must be a non-empty list of its classes "
            f"({', '.join(dataset.classes)})"
        )
    wanted = [dataset.classes.index(name) for name in classes]
    return dataset.subset(np.flatnonzero(np.isin(dataset.labels, wanted)))


def combine(base: FaceDataset, extra: FaceDataset, repeat: int = 1) -> FaceDataset:
    """``base`` followed by ``repeat`` copies of ``extra``, whose labels are mapped to ``base``'s
    classes by name (images of classes ``base`` lacks are dropped); for multi-dataset training.

    The images must have the same size and channels. When ``base`` has soft targets, ``extra``'s
    labels become one-hot targets. Votes and extra arrays are not carried; problems of both are.
    """
    if extra.images.shape[1:] != base.images.shape[1:]:
        raise DataError(
            f"{extra.name}/{extra.split}: images of shape {extra.images.shape[1:]} cannot join "
            f"{base.name}/{base.split}'s {base.images.shape[1:]}"
        )
    if repeat < 1:
        raise DataError(f"repeat must be at least 1, got {repeat}")
    labels = map_labels(extra.labels, extra.classes, base.classes)
    keep = np.flatnonzero(labels >= 0)
    keep = np.tile(keep, repeat)
    targets = None
    if base.targets is not None:
        one_hot = np.eye(len(base.classes), dtype=np.float32)[labels[keep]]
        targets = np.concatenate([base.targets, one_hot])
    return FaceDataset(
        images=np.concatenate([base.images, extra.images[keep]]),
        labels=np.concatenate([base.labels, labels[keep]]),
        classes=base.classes,
        name=f"{base.name}+{extra.name}",
        split=base.split,
        ids=np.concatenate([base.ids.astype(str), np.char.add(f"{extra.name}:", extra.ids[keep].astype(str))]),
        targets=targets,
        target_mode=base.target_mode,
        problems=[*base.problems, *extra.problems],
    )
