"""RAF-DB basic emotions (Li et al. 2017): ``EmoLabel/list_patition_label.txt`` + aligned images.

Each list line is ``train_00001.jpg 5`` or ``test_0001.jpg 1`` (the file's own spelling,
"patition"); labels 1-7 are surprise, fear, disgust, happiness, sadness, anger, neutral,
mapped here to the FER2013 label set. Images are read from ``Image/aligned/`` as
``train_00001_aligned.jpg`` (the 100x100 aligned release), or from ``Image/original/``
under the listed name when no aligned folder exists. RAF-DB has no validation split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferlab.data.dataset import FaceDataset, Problem, SplitUnavailable, normalize_split
from ferlab.data.images import read_images
from ferlab.data.labels import FER2013_CLASSES, class_mapping
from ferlab.errors import DataError

RAFDB_CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
LIST_FILE = Path("EmoLabel") / "list_patition_label.txt"
_TO_FER2013 = class_mapping(RAFDB_CLASSES, FER2013_CLASSES)


def load_rafdb(
    root: str | Path, split: str = "train", size: int = 48, color: str = "gray", strict: bool = False
) -> FaceDataset:
    """RAF-DB images resized to ``size`` x ``size`` with labels in FER2013 order (``train``/``test``/``all``)."""
    root = Path(root)
    split = normalize_split(split)
    if split == "val":
        raise SplitUnavailable(f"{root}: RAF-DB has no validation split; use train or test")
    list_path = root / LIST_FILE
    if not list_path.is_file():
        raise DataError(f"{list_path}: missing; expected RAF-DB's {LIST_FILE} under {root}")
    entries, problems = _read_list(list_path)
    entries = [(name, label) for name, label in entries if split == "all" or name.startswith(f"{split}_")]
    if not entries:
        raise SplitUnavailable(f"{list_path}: no images of split {split!r}")
    aligned = root / "Image" / "aligned"
    if aligned.is_dir():
        paths = [aligned / f"{Path(name).stem}_aligned{Path(name).suffix}" for name, _ in entries]
    else:
        paths = [root / "Image" / "original" / name for name, _ in entries]
    images, ok, bad = read_images([(p, None) for p in paths], (size, size), color, strict)
    labels = np.array([label for _, label in entries], dtype=np.int64)[ok]
    return FaceDataset(
        images=images,
        labels=_TO_FER2013[labels - 1],
        classes=FER2013_CLASSES,
        name="rafdb",
        split=split,
        ids=np.array([name for name, _ in entries], dtype=str)[ok],
        problems=problems + bad,
    )


def _read_list(path: Path) -> tuple[list[tuple[str, int]], list[Problem]]:
    entries, problems = [], []
    for line_number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit() or not 1 <= int(fields[1]) <= len(RAFDB_CLASSES):
            problems.append(Problem(str(path), f"expected '<image name> <label 1-7>', got {line!r}", line=line_number))
            continue
        entries.append((fields[0], int(fields[1])))
    return entries, problems
