"""Datasets: one interface over the files FER users download.

>>> from ferlab.data import load_dataset
>>> test = load_dataset("fer2013", "path/to/fer2013", split="test")   # doctest: +SKIP
>>> test.images.shape, test.class_counts()                              # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ferlab.checks import check_choice
from ferlab.data.dataset import SPLITS, FaceDataset, Problem, SplitUnavailable, normalize_split
from ferlab.data.labels import FER2013_CLASSES, FERPLUS_CLASSES, map_labels
from ferlab.errors import DataError

READERS: dict[str, str] = {
    "fer2013": "ferlab.data.fer2013:load_fer2013",
    "ferplus": "ferlab.data.ferplus:load_ferplus",
    "folder": "ferlab.data.folders:load_folder",
    "affectnet": "ferlab.data.affectnet:load_affectnet",
    "rafdb": "ferlab.data.rafdb:load_rafdb",
}
"""Reader name -> ``module:function``, imported on first use: the application imports
`ferlab.data.images` and `ferlab.data.labels` without the readers' pandas."""


def list_datasets() -> list[str]:
    """Names `load_dataset` accepts."""
    return list(READERS)


def load_dataset(name: str, root: str | Path, split: str = "train", **options: Any) -> FaceDataset:
    """Read a dataset by reader name (or ``"auto"``) from ``root``.

    Args:
        name: one of `list_datasets()`, or ``auto`` to recognise the layout of ``root``.
        root: the file or folder the dataset lives in.
        split: ``train``, ``val``, ``test`` or ``all``.
        options: reader options, e.g. ``mode="probability"`` for ferplus, ``size=100,
            color="rgb"`` for image readers, ``strict=True`` to fail on the first bad image.
    """
    if name == "auto":
        name = detect_dataset(root)
    reader = reader_function(name)
    accepted = [p for p in inspect.signature(reader).parameters if p not in ("root", "split")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(
            f"dataset {name!r} has no option {', '.join(unknown)}; its options: {', '.join(accepted) or 'none'}"
        )
    return reader(root, split=split, **options)


def reader_function(name: str) -> Callable[..., FaceDataset]:
    """The reader function registered as ``name`` in `READERS`."""
    check_choice(name, (*READERS, "auto"), "dataset")
    module, function = READERS[name].split(":")
    return getattr(importlib.import_module(module), function)


def detect_dataset(root: str | Path) -> str:
    """Guess the reader for ``root`` from the files it holds."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such file or folder")
    if root.is_file():
        return "fer2013"
    folders = (root, root / "data", root / "fer2013")
    if any((f / "FER2013Train" / "label.csv").is_file() for f in folders):
        return "ferplus"
    if any(
        (f / name).is_file()
        for f in folders
        for name in ("fer2013.csv", "fer2013.csv.gz", "icml_face_data.csv", "icml_face_data.csv.gz", "train.csv")
    ):
        return "fer2013"
    if (root / "EmoLabel" / "list_patition_label.txt").is_file():
        return "rafdb"
    if any((root / d / "training.csv").is_file() for d in (".", "Manually_Annotated_file_lists")):
        return "affectnet"
    if any(p.is_dir() for p in root.iterdir()):
        return "folder"
    raise DataError(f"{root}: no dataset layout recognised; pass the reader name ({', '.join(READERS)})")


__all__ = [
    "FER2013_CLASSES",
    "FERPLUS_CLASSES",
    "READERS",
    "SPLITS",
    "FaceDataset",
    "Problem",
    "SplitUnavailable",
    "detect_dataset",
    "list_datasets",
    "load_dataset",
    "map_labels",
    "normalize_split",
    "reader_function",
]
