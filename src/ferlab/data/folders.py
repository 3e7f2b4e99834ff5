r"""Class-per-subfolder datasets: the FER2013 JPEG export, CK+48, or any user folder.

Accepted layouts::

    root/<class>/<images>                  one split, read as ``all``
    root/<split>/<class>/<images>          splits train, val (or valid/validation), test

Class folder names map to a canonical label set by their meaning (``angry``/``anger``,
``happy``/``happiness``, ...; see `ferlab.data.labels`); ``class_map`` renames others
(e.g. ``{"0": "angry"}``). A folder whose name has no known meaning is an error.

The FER2013 JPEG export puts PublicTest and PrivateTest images together in ``test/``
(file names ``PublicTest_*`` / ``PrivateTest_*``). When there is no val folder and the
names carry those prefixes, ``val`` reads the PublicTest files and ``test`` the
PrivateTest ones, so the standard FER2013 protocol holds for this layout too.

A folder without split folders can be split by file with ``holdout``: that fraction of each
class's files (rounded; the files sorted by path, then shuffled with the fixed `HOLDOUT_SEED`)
is ``val``, the rest ``train``. The same files land in the same part on every machine.
Frames of one video clip (or photos of one person) are near-duplicates: split at random, one
lands in ``train`` and its twin in ``val``, and the ``val`` figure measures memory. With
``holdout_group`` (a regular expression searched in each file's name without its suffix; its
first group, or the whole match, names the file's group; a file it does not match is a group of
its own; one that matches no file is refused) whole groups go to one part: groups are shuffled
with `HOLDOUT_SEED` and each joins ``val`` while no class of its files would pass
``round(holdout * n)`` there. For SFEW 2.0's ``<film>_<clip>_<frame>.png``, ``(.+)_\d+$`` keeps
clips together and ``^([^_]+)_`` films.

Images that cannot be read (and non-image files) are skipped and listed in
`FaceDataset.problems`; ``strict=True`` raises on the first one instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ferlab.data.dataset import FaceDataset, Problem, SplitUnavailable, normalize_split
from ferlab.data.images import IMAGE_SUFFIXES, read_images
from ferlab.data.labels import FER2013_CLASSES, LABEL_SETS, concept, label_set
from ferlab.errors import DataError

_SPLIT_FOLDERS = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test",)}
_FER2013_PREFIX = {"val": "PublicTest_", "test": "PrivateTest_"}
HOLDOUT_SEED = 0
"""The seed of `holdout_mask`'s shuffle: fixed, so a holdout split never changes."""


def load_folder(
    root: str | Path,
    split: str = "all",
    label_set_name: str = "auto",
    class_map: dict[str, str] | None = None,
    size: int = 48,
    color: str = "gray",
    strict: bool = False,
    holdout: float = 0.0,
    holdout_group: str | None = None,
) -> FaceDataset:
    """Images from class subfolders, resized to ``size`` x ``size`` in ``color`` (gray or rgb).

    Args:
        root: the dataset folder (see the module docstring for layouts).
        split: ``train``, ``val``, ``test`` or ``all``.
        label_set_name: ``fer2013``, ``ferplus`` or ``auto`` (fer2013 unless a class, such as
            contempt, exists only in ferplus).
        class_map: folder name → class name, for folders not named by their emotion.
        strict: raise on the first unreadable or non-image file instead of skipping it.
        holdout: for a folder without split folders, the fraction of each class held out as
            ``val`` (the rest is ``train``; see the module docstring); 0 for no split.
        holdout_group: a regular expression naming each file's group (see the module
            docstring): a group's files all go to the same part of the holdout split.
    """
    root = Path(root)
    split = normalize_split(split)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    if not 0 <= holdout < 1:
        raise DataError(f"holdout must be in [0, 1), got {holdout}")
    if holdout and split == "test":
        raise SplitUnavailable(f"{root}: a holdout split has train and val parts only")
    group_pattern = _group_pattern(holdout_group, holdout)
    parents, prefix = _parents_to_read(root, "all" if holdout else split)
    if holdout and parents != [root]:
        raise DataError(f"{root}: has split folders already; holdout is for folders without them")
    class_map = class_map or {}
    class_dirs = _class_folders(parents, class_map)
    every_split = _class_folders(_parents_to_read(root, "all")[0], class_map)  # one label set for all splits
    classes = _choose_label_set(root, {c for _, c in every_split}, label_set_name)
    index_of = {concept(name): i for i, name in enumerate(classes)}
    files, labels, problems = [], [], []
    for folder, class_concept in class_dirs:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                problems.append(Problem(str(path), f"not an image file (suffix {path.suffix or 'none'})"))
            elif prefix is None or path.name.startswith(prefix):
                files.append(path)
                labels.append(index_of[class_concept])
    if holdout and split != "all":
        groups = None if group_pattern is None else [_group_of(f.stem, group_pattern) for f in files]
        if group_pattern is not None and files and not any(group_pattern.search(f.stem) for f in files):
            raise DataError(
                f"{root}: holdout_group {holdout_group!r} matches no file name (without its suffix), so every "
                "file would be a group of its own; for SFEW's clips use '(.+)_\\d+$'"
            )
        held_out = holdout_mask(labels, holdout, groups)
        if groups is not None and not held_out.any():
            raise DataError(
                f"{root}: no whole group of holdout_group {holdout_group!r} fits in a {holdout} holdout of its "
                "classes; name smaller groups or hold out more"
            )
        keep = held_out if split == "val" else ~held_out
        files, labels = [f for f, k in zip(files, keep) if k], [c for c, k in zip(labels, keep) if k]
    if strict and problems:
        raise DataError(str(problems[0]))
    if not files:
        raise DataError(f"{root}: no image files for split {split!r}")
    images, ok, bad = read_images([(f, None) for f in files], (size, size), color, strict)
    ids = np.array([f.relative_to(root).as_posix() for f in files], dtype=str)[ok]
    return FaceDataset(
        images=images,
        labels=np.array(labels, dtype=np.int64)[ok],
        classes=classes,
        name="folder",
        split=split,
        ids=ids,
        problems=problems + bad,
    )


def holdout_mask(labels: list[int], fraction: float, groups: list[str] | None = None) -> np.ndarray:
    """True for the held-out items: ``round(fraction * n)`` of each class's ``n`` (in the given
    order, shuffled with `HOLDOUT_SEED`). With ``groups`` (one name per item), whole groups are
    held out, in an order shuffled with `HOLDOUT_SEED`, each while no class of its items would
    pass its ``round(fraction * n)``: a group never straddles the two parts."""
    labels_array = np.asarray(labels)
    mask = np.zeros(len(labels_array), dtype=bool)
    rng = np.random.default_rng(HOLDOUT_SEED)
    if groups is None:
        for label in np.unique(labels_array):
            members = np.flatnonzero(labels_array == label)
            mask[rng.permutation(members)[: round(fraction * len(members))]] = True
        return mask
    names = sorted(set(groups))
    members = {name: [] for name in names}
    for index, name in enumerate(groups):
        members[name].append(index)
    room = {label: round(fraction * count) for label, count in zip(*np.unique(labels_array, return_counts=True))}
    for position in rng.permutation(len(names)):
        indices = members[names[position]]
        needed = dict(zip(*np.unique(labels_array[indices], return_counts=True)))
        if all(count <= room[label] for label, count in needed.items()):
            mask[indices] = True
            for label, count in needed.items():
                room[label] -= count
    return mask


def _group_pattern(holdout_group: str | None, holdout: float) -> re.Pattern | None:
    """The compiled ``holdout_group``; `DataError` for a bad expression or one without a holdout."""
    if holdout_group is None:
        return None
    if not holdout:
        raise DataError("holdout_group needs a holdout fraction (holdout > 0)")
    try:
        return re.compile(holdout_group)
    except re.error as error:
        raise DataError(f"holdout_group {holdout_group!r} is not a regular expression ({error})") from None


def _group_of(stem: str, pattern: re.Pattern) -> str:
    """A file's group: ``pattern``'s first group (or whole match) in its name, else the name itself."""
    found = pattern.search(stem)
    if found is None:
        return stem
    return found.group(1) if pattern.groups else found.group(0)


def _parents_to_read(root: Path, split: str) -> tuple[list[Path], str | None]:
    """The folders whose class subfolders make up ``split``, and a file-name prefix filter."""
    found = {}
    for name, folder_names in _SPLIT_FOLDERS.items():
        folder = next((root / f for f in folder_names if (root / f).is_dir()), None)
        if folder is not None:
            found[name] = folder
    if not found:
        if split != "all":
            raise SplitUnavailable(f"{root}: has class folders but no split folders; read it with split 'all'")
        return [root], None
    if split == "all":
        return list(found.values()), None
    if split in _FER2013_PREFIX and "val" not in found and "test" in found:
        names = (p.name for p in found["test"].rglob("*"))
        if any(name.startswith(tuple(_FER2013_PREFIX.values())) for name in names):
            return [found["test"]], _FER2013_PREFIX[split]
    if split not in found:
        raise SplitUnavailable(f"{root}: no {split} folder (found {', '.join(f.name for f in found.values())})")
    return [found[split]], None


def _class_folders(parents: list[Path], class_map: dict[str, str]) -> list[tuple[Path, str]]:
    result = []
    for parent in parents:
        for folder in sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")):
            meaning = concept(class_map.get(folder.name, folder.name))
            if meaning is None:
                raise DataError(
                    f"{folder}: unknown class folder {folder.name!r}; name folders by emotion "
                    "(angry, disgust, fear, happy, sad, surprise, neutral, contempt) or pass class_map"
                )
            result.append((folder, meaning))
    if not result:
        raise DataError(f"{', '.join(map(str, parents))}: no class folders")
    return result


def _choose_label_set(root: Path, concepts: set[str], name: str) -> tuple[str, ...]:
    if name == "auto":
        name = "fer2013" if concepts <= {concept(c) for c in FER2013_CLASSES} else "ferplus"
    classes = label_set(name)
    missing = concepts - {concept(c) for c in classes}
    if missing:
        others = [n for n in LABEL_SETS if n != name]
        raise DataError(
            f"{root}: class(es) {', '.join(sorted(missing))} have no counterpart in the {name} label set; "
            f"use label set {' or '.join(others)}"
        )
    return classes
