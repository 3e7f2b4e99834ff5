"""FER2013 from the files users download: ``fer2013.csv`` (plain or .gz), Kaggle's
``icml_face_data.csv`` (header with spaces), or Kaggle's ``train.csv`` + ``test.csv`` pair.

Splits follow the challenge: ``train`` = Training (28,709), ``val`` = PublicTest (3,589),
``test`` = PrivateTest (3,589). Image ids are the 0-based data row of the file (the
"dataset index" used by subset lists and by FERPlus, whose rows align with these).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ferlab.data.cache import cached_arrays
from ferlab.data.dataset import FaceDataset, SplitUnavailable, normalize_split
from ferlab.data.labels import FER2013_CLASSES
from ferlab.errors import DataError

SIDE = 48
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
SPLIT_OF_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SINGLE_FILES = ("fer2013.csv", "fer2013.csv.gz", "icml_face_data.csv", "icml_face_data.csv.gz")
_PARSER_VERSION = "fer2013-csv-v1"
_TEST_HALF = 3589  # Kaggle's test.csv holds PublicTest then PrivateTest, 3,589 rows each


def find_fer2013_files(root: Path) -> list[Path]:
    """The FER2013 file(s) under ``root`` (a file, a folder, or a folder with a ``fer2013/`` inside)."""
    root = Path(root)
    if root.is_file():
        if root.name in ("train.csv", "test.csv"):
            return _train_test_pair(root.parent)
        return [root]
    if not root.exists():
        raise DataError(f"{root}: no such file or folder")
    for folder in (root, root / "fer2013"):
        for name in SINGLE_FILES:
            if (folder / name).is_file():
                return [folder / name]
        if (folder / "train.csv").is_file():
            return _train_test_pair(folder)
    raise DataError(
        f"{root}: no FER2013 file found; expected one of {', '.join(SINGLE_FILES)} or Kaggle's train.csv (+ test.csv)"
    )


def _train_test_pair(folder: Path) -> list[Path]:
    pair = [folder / "train.csv", folder / "test.csv"]
    return [path for path in pair if path.is_file()]


def parse_fer2013_csv(path: Path, default_usage: str | None = None) -> dict[str, np.ndarray]:
    """Parse one FER2013-style CSV into arrays ``pixels`` (N,48,48) uint8, ``emotion`` int64
    (-1 where the file has no labels) and ``usage`` int8 (index into `USAGES`).

    ``default_usage`` is used when the file has no Usage column (Kaggle's train.csv/test.csv).
    Raises `DataError` naming the file and line of the first malformed row.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError, EOFError) as error:
        raise DataError(f"{path}: cannot be read as CSV ({error})") from None
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    if "pixels" not in frame.columns:
        raise DataError(
            f"{path}: no 'pixels' column (found {', '.join(frame.columns) or 'none'}); "
            "expected FER2013's columns emotion, pixels, Usage"
        )
    if "usage" not in frame.columns and default_usage is None:
        raise DataError(f"{path}: no 'Usage' column; expected FER2013's columns emotion, pixels, Usage")
    pixels = np.empty((len(frame), SIDE * SIDE), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for row, text in enumerate(frame["pixels"]):
            try:
                values = np.fromstring(text, dtype=np.int64, sep=" ")
            except ValueError:  # NumPy 2.x: a token that is not a number
                values = np.empty(0, dtype=np.int64)
            if values.size != SIDE * SIDE:
                raise DataError(f"{path}, line {row + 2}: {_pixel_problem(text)}")
            if values.min() < 0 or values.max() > 255:
                raise DataError(f"{path}, line {row + 2}: pixel values must lie in 0..255")
            pixels[row] = values
    return {
        "pixels": pixels.reshape(-1, SIDE, SIDE),
        "emotion": _emotion_codes(path, frame),
        "usage": _usage_codes(path, frame, default_usage),
    }


def _pixel_problem(text: str) -> str:
    tokens = text.split()
    if len(tokens) != SIDE * SIDE:
        return f"expected {SIDE * SIDE} space-separated pixel values, found {len(tokens)}"
    bad = next(token for token in tokens if not token.isdigit())
    return f"pixel value {bad!r} is not an integer 0..255"


def _emotion_codes(path: Path, frame: pd.DataFrame) -> np.ndarray:
    if "emotion" not in frame.columns:
        return np.full(len(frame), -1, dtype=np.int64)
    codes = pd.to_numeric(frame["emotion"], errors="coerce")
    bad = ~codes.isin(range(len(FER2013_CLASSES)))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path}, line {row + 2}: emotion {frame['emotion'].iloc[row]!r} is not a code 0..6")
    return codes.to_numpy(dtype=np.int64)


def _usage_codes(path: Path, frame: pd.DataFrame, default_usage: str | None) -> np.ndarray:
    if "usage" not in frame.columns:
        usage = np.full(len(frame), USAGES.index(default_usage), dtype=np.int8)
        if default_usage == "PublicTest" and len(frame) == 2 * _TEST_HALF:
            usage[_TEST_HALF:] = USAGES.index("PrivateTest")
        return usage
    names = frame["usage"].str.strip()
    bad = ~names.isin(USAGES)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path}, line {row + 2}: Usage {names.iloc[row]!r} is not one of {', '.join(USAGES)}")
    return names.map(USAGES.index).to_numpy(dtype=np.int8)


def read_fer2013_arrays(files: list[Path]) -> dict[str, np.ndarray]:
    """All rows of the FER2013 file(s), parsed once and then served from the cache."""

    def build() -> dict[str, np.ndarray]:
        parts = []
        for path in files:
            default = {"train.csv": "Training", "test.csv": "PublicTest"}.get(path.name)
            parts.append(parse_fer2013_csv(path, default_usage=default))
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    return cached_arrays(files, _PARSER_VERSION, build)


def load_fer2013(root: str | Path, split: str = "train") -> FaceDataset:
    """FER2013 images (48x48 uint8 grayscale) and labels in `FER2013_CLASSES` order.

    Args:
        root: a FER2013 file, or a folder holding one (see `find_fer2013_files`).
        split: ``train``, ``val``, ``test`` or ``all``.
    """
    split = normalize_split(split)
    files = find_fer2013_files(Path(root))
    arrays = read_fer2013_arrays(files)
    rows = np.arange(len(arrays["usage"]))
    if split != "all":
        usage = next(code for code, name in enumerate(USAGES) if SPLIT_OF_USAGE[name] == split)
        rows = rows[arrays["usage"] == usage]
        if rows.size == 0:
            raise SplitUnavailable(f"{', '.join(map(str, files))}: no rows of split {split!r} ({USAGES[usage]})")
    return FaceDataset(
        images=arrays["pixels"][rows],
        labels=arrays["emotion"][rows],
        classes=FER2013_CLASSES,
        name="fer2013",
        split=split,
        ids=rows,
    )
