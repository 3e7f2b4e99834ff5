"""FERPlus (Barsoum et al. 2016): FER2013's images relabelled by 10 annotators each.

Two layouts are read:

* ``fer2013.csv`` (or any FER2013 file `find_fer2013_files` accepts) + ``fer2013new.csv``,
  whose row i holds the votes for row i of the FER2013 file; rows with an empty
  ``Image name`` were dropped from FERPlus and are skipped here.
* The FERPlus PNG export: ``FER2013Train/``, ``FER2013Valid/``, ``FER2013Test/``, each with
  a header-less ``label.csv`` (image name, face box, 10 vote counts) and the ``fer*.png`` files.

Label modes follow the reference implementation (Microsoft/FERPlus, ``ferplus.py``):

* ``majority``: votes of 1 are dropped as outliers; an image is kept when one emotion has
  more than half of the remaining votes and that emotion is not ``unknown`` or ``NF``.
* ``probability`` / ``crossentropy``: the same outlier removal, then the largest vote
  groups (at most three, stopping once 75% of the votes are covered or unknown/NF is
  reached) form the target distribution; images where that covers at most half of the
  votes, or whose largest group is unknown/NF, are dropped. Both modes give the same
  soft ``targets``; they differ in the loss the trainer applies (sampled labels vs. soft
  cross-entropy), which reads `FaceDataset.target_mode`.

Image ids are the FERPlus image names; the FER2013 row of each image is kept in
``extra["row"]``. The public ``fer2013new.csv`` gives four names to two rows each
(fer0006953, fer0008403, fer0011785 in Training, fer0033120 in PrivateTest); both rows
are distinct FER2013 images with their own votes and both are kept when the mode keeps
them, so an id can occur twice. The majority counts match the paper exactly (25,060 /
3,199 / 3,153). The PNG export holds one file per name, so there a name is one image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ferlab.checks import check_choice
from ferlab.data.dataset import FaceDataset, normalize_split
from ferlab.data.fer2013 import SPLIT_OF_USAGE, USAGES, find_fer2013_files, read_fer2013_arrays
from ferlab.data.images import read_images
from ferlab.data.labels import FERPLUS_CLASSES
from ferlab.errors import DataError

MODES: tuple[str, ...] = ("majority", "probability", "crossentropy")
VOTE_COLUMNS: tuple[str, ...] = (*FERPLUS_CLASSES, "unknown", "NF")
PNG_FOLDERS = {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"}
_EMOTIONS = len(FERPLUS_CLASSES)


def vote_targets(votes: np.ndarray, mode: str = "majority") -> tuple[np.ndarray, np.ndarray]:
    """Turn raw votes ``(N, 10)`` into targets ``(N, 8)`` float32 and a keep mask ``(N,)``.

    Dropped images (see the module docstring) have ``keep == False`` and all-zero targets.
    """
    check_choice(mode, MODES, "FERPlus mode")
    votes = np.where(np.asarray(votes, dtype=np.float64) <= 1, 0.0, votes)
    if mode == "majority":
        winner = votes.argmax(axis=1)
        keep = (votes.max(axis=1) > 0.5 * votes.sum(axis=1)) & (winner < _EMOTIONS)
        targets = np.zeros((len(votes), _EMOTIONS), dtype=np.float32)
        targets[np.flatnonzero(keep), winner[keep]] = 1.0
        return targets, keep
    distributions = [_vote_distribution(row) for row in votes]
    keep = np.array([d is not None for d in distributions], dtype=bool)
    targets = np.zeros((len(votes), _EMOTIONS), dtype=np.float32)
    for i in np.flatnonzero(keep):
        targets[i] = distributions[i]
    return targets, keep


def _vote_distribution(votes: np.ndarray) -> np.ndarray | None:
    """The reference code's probability target for one image, or None to drop it."""
    total = votes.sum()
    chosen = np.zeros_like(votes)
    remaining = votes.copy()
    covered, groups, valid = 0.0, 0, True
    while covered < 0.75 * total and groups < 3 and valid:
        peak = remaining.max()
        for i in np.flatnonzero(remaining == peak):
            chosen[i], remaining[i] = peak, 0.0
            covered += peak
            groups += 1
            if i >= _EMOTIONS:  # unknown or NF reached: stop here
                valid = False
                if chosen.sum() > peak:  # emotions came first: leave unknown/NF out
                    chosen[i] = 0.0
                    groups -= 1
                break
    if chosen.sum() <= 0.5 * total or groups > 3 or chosen.argmax() >= _EMOTIONS:
        return None
    emotions = chosen[:_EMOTIONS]
    return (emotions / emotions.sum()).astype(np.float32)


def load_ferplus(root: str | Path, split: str = "train", mode: str = "majority", strict: bool = False) -> FaceDataset:
    """FERPlus images (48x48 uint8 grayscale) with labels in `FERPLUS_CLASSES` order.

    Args:
        root: a folder with a FER2013 file and ``fer2013new.csv``, or the FERPlus PNG export.
        split: ``train`` (FERPlus Training), ``val`` (Valid = PublicTest), ``test``
            (Test = PrivateTest) or ``all``.
        mode: ``majority``, ``probability`` or ``crossentropy``.
        strict: PNG export only: raise on the first unreadable image instead of skipping it.
    """
    split = normalize_split(split)
    check_choice(mode, MODES, "FERPlus mode")
    root = Path(root)
    png_root = _png_export_root(root)
    if png_root is not None:
        return _load_png_export(png_root, split, mode, strict)
    return _load_csv_layout(root, split, mode)


def _load_csv_layout(root: Path, split: str, mode: str) -> FaceDataset:
    folder = root.parent if root.is_file() else root
    labels_path = next(
        (p for p in (folder / "fer2013new.csv", folder / "fer2013" / "fer2013new.csv") if p.is_file()), None
    )
    if labels_path is None:
        raise DataError(
            f"{root}: no FERPlus labels found; expected fer2013new.csv beside fer2013.csv, "
            f"or the FERPlus PNG export ({', '.join(PNG_FOLDERS.values())})"
        )
    files = find_fer2013_files(root if root.is_file() else labels_path.parent)
    arrays = read_fer2013_arrays(files)
    table = _read_vote_table(labels_path)
    if len(table) != len(arrays["usage"]):
        raise DataError(
            f"{labels_path}: {len(table)} rows but the FER2013 file has {len(arrays['usage'])}; "
            "row i of fer2013new.csv must describe row i of fer2013.csv"
        )
    votes = table[list(VOTE_COLUMNS)].to_numpy(dtype=np.float32)
    names = table["image name"].to_numpy(dtype=str)
    targets, keep = vote_targets(votes, mode)
    keep &= names != ""
    if split != "all":
        usage = USAGES.index(next(name for name, s in SPLIT_OF_USAGE.items() if s == split))
        keep &= arrays["usage"] == usage
    rows = np.flatnonzero(keep)
    return FaceDataset(
        images=arrays["pixels"][rows],
        labels=targets[rows].argmax(axis=1),
        classes=FERPLUS_CLASSES,
        name="ferplus",
        split=split,
        ids=names[rows],
        targets=targets[rows],
        target_mode=mode,
        votes=votes[rows],
        extra={"row": rows},
    )


def _read_vote_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={"Image name": str}, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: cannot be read as CSV ({error})") from None
    table.columns = [str(column).strip() for column in table.columns]
    missing = [c for c in ("Image name", *VOTE_COLUMNS) if c not in table.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected FERPlus's "
            f"Usage, Image name, {', '.join(VOTE_COLUMNS)}"
        )
    table = table.rename(columns={"Image name": "image name"})
    for column in VOTE_COLUMNS:
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any() or (values < 0).any():
            row = int(np.flatnonzero((values.isna() | (values < 0)).to_numpy())[0])
            raise DataError(f"{path}, line {row + 2}: {column} vote {table[column].iloc[row]!r} is not a count")
        table[column] = values
    table["image name"] = table["image name"].str.strip()
    return table


def _png_export_root(root: Path) -> Path | None:
    for folder in (root, root / "data"):
        if any((folder / name / "label.csv").is_file() for name in PNG_FOLDERS.values()):
            return folder
    return None


def _load_png_export(root: Path, split: str, mode: str, strict: bool) -> FaceDataset:
    splits = list(PNG_FOLDERS) if split == "all" else [split]
    parts = [_read_png_split(root / PNG_FOLDERS[s], mode, strict) for s in splits]
    images, labels, ids, targets, votes, problems = zip(*parts)
    return FaceDataset(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        classes=FERPLUS_CLASSES,
        name="ferplus",
        split=split,
        ids=np.concatenate(ids),
        targets=np.concatenate(targets),
        target_mode=mode,
        votes=np.concatenate(votes),
        problems=[p for ps in problems for p in ps],
    )


def _read_png_split(folder: Path, mode: str, strict: bool) -> tuple:
    label_file = folder / "label.csv"
    if not label_file.is_file():
        raise DataError(f"{label_file}: missing; the FERPlus PNG export has label.csv in each split folder")
    rows = _read_png_labels(label_file)
    votes = np.array([row[1] for row in rows], dtype=np.float32).reshape(-1, len(VOTE_COLUMNS))
    targets, keep = vote_targets(votes, mode)
    kept = np.flatnonzero(keep)
    images, ok, problems = read_images([(folder / rows[i][0], None) for i in kept], (48, 48), "gray", strict)
    kept = kept[ok]
    names = np.array([rows[i][0] for i in kept], dtype=str)
    return images, targets[kept].argmax(axis=1), names, targets[kept], votes[kept], problems


def _read_png_labels(path: Path) -> list[tuple[str, list[float]]]:
    """Rows of a FERPlus ``label.csv``: ``name, "(x, y, w, h)", 10 votes``."""
    try:
        table = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: cannot be read as CSV ({error})") from None
    if table.shape[1] != 2 + len(VOTE_COLUMNS):
        raise DataError(
            f"{path}: {table.shape[1]} columns; expected image name, face box and {len(VOTE_COLUMNS)} vote counts"
        )
    rows = []
    for line, record in enumerate(table.itertuples(index=False), start=1):
        try:
            counts = [float(value) for value in record[2:]]
        except ValueError:
            raise DataError(f"{path}, line {line}: vote counts must be numbers") from None
        rows.append((record[0].strip(), counts))
    return rows
