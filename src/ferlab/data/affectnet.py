"""AffectNet (Mollahosseini et al. 2017) from its CSV lists and image folder.

``training.csv`` / ``validation.csv`` have the columns ``subDirectory_filePath, face_x,
face_y, face_width, face_height, facial_landmarks, expression, valence, arousal``; each
image is cropped to its face box. Expression codes 0-7 (neutral, happy, sad, surprise,
fear, disgust, anger, contempt) map to the FERPlus label set; codes 8-10 (none,
uncertain, no-face) are not emotions and are skipped. The test set was never released:
``val`` and ``test`` both read ``validation.csv``, as in the literature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ferlab.data.dataset import FaceDataset, Problem, normalize_split
from ferlab.data.images import read_images
from ferlab.data.labels import FERPLUS_CLASSES, class_mapping
from ferlab.errors import DataError

AFFECTNET_CLASSES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression")
LISTS = {"train": ("training.csv",), "val": ("validation.csv",), "test": ("validation.csv",)}
IMAGE_FOLDERS = ("Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images", ".")
_TO_FERPLUS = class_mapping(AFFECTNET_CLASSES, FERPLUS_CLASSES)


def load_affectnet(
    root: str | Path, split: str = "train", size: int = 48, color: str = "gray", strict: bool = False
) -> FaceDataset:
    """AffectNet face crops, resized to ``size`` x ``size``, with labels in FERPlus order.

    Valence and arousal are kept in ``extra``. Rows whose image is missing or unreadable,
    or whose face box lies outside the image, are skipped and listed in ``problems``.
    """
    root = Path(root)
    split = normalize_split(split)
    names = ("training.csv", "validation.csv") if split == "all" else LISTS[split]
    tables = [_read_list(_find(root, name)) for name in names]
    table = pd.concat(tables, ignore_index=True)
    images_root = next((root / f for f in IMAGE_FOLDERS if (root / f).is_dir()), root)
    items = [
        (images_root / path, (x, y, w, h))
        for path, x, y, w, h in table[
            ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height"]
        ].itertuples(index=False)
    ]
    images, ok, problems = read_images(items, (size, size), color, strict)
    kept = table[ok]
    row_problems = [p for t in tables for p in t.attrs["problems"]]
    return FaceDataset(
        images=images,
        labels=_TO_FERPLUS[kept["expression"].to_numpy()],
        classes=FERPLUS_CLASSES,
        name="affectnet",
        split=split,
        ids=kept["subDirectory_filePath"].to_numpy(dtype=str),
        extra={k: kept[k].to_numpy(dtype=np.float32) for k in ("valence", "arousal") if k in kept},
        problems=row_problems + problems,
    )


def _find(root: Path, name: str) -> Path:
    for candidate in (root / name, root / "Manually_Annotated_file_lists" / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{root}: no {name}; expected AffectNet's {name} list in this folder")


def _read_list(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={"subDirectory_filePath": str, "facial_landmarks": str})
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: cannot be read as CSV ({error})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected AffectNet's {', '.join(COLUMNS)}")
    numeric = table[list(COLUMNS[1:])].apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().any(axis=1)
    problems = [
        Problem(str(path), "face box or expression is not a number", line=int(i) + 2) for i in np.flatnonzero(bad)
    ]
    table[list(COLUMNS[1:])] = numeric
    table = table[~bad & numeric["expression"].isin(range(len(AFFECTNET_CLASSES)))].copy()
    table["expression"] = table["expression"].astype(np.int64)
    table.attrs["problems"] = problems
    return table
