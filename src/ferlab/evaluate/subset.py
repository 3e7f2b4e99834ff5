"""Evaluating part of a split: the images named in a list file.

The file holds one entry per line; blank lines and ``#`` comments are ignored.

* A digits-only line is a dataset index: it matches integer ids (FER2013 row numbers)
  and ``extra["row"]`` (the FER2013 row of a FERPlus image).
* Any other line matches ids as strings (FERPlus image names such as ``fer0000123.png``,
  folder datasets' relative paths) and the file-name part of path ids (``img7.png``
  matches ``test/happy/img7.png``; a name several images share selects them all).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path, PurePosixPath

import numpy as np

from ferlab.data import FaceDataset
from ferlab.errors import DataError

SHOWN_UNMATCHED = 5
"""How many unmatched lines the error message quotes."""


def read_subset_file(path: str | Path) -> list[str]:
    """The entries of a subset list file, comments and blank lines removed."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the subset list ({error.__class__.__name__}: {error})") from None
    entries = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    entries = [entry for entry in entries if entry]
    if not entries:
        raise DataError(f"{path}: the subset list names no images")
    return entries


def _lookup(dataset: FaceDataset) -> dict[str, list[int]]:
    """Every key an entry can match (see the module docstring) → indices of the images it names."""
    keys: dict[str, list[int]] = defaultdict(list)
    for index, image_id in enumerate(dataset.ids.tolist()):
        text = str(image_id)
        keys[text].append(index)
        name = PurePosixPath(text).name
        if name != text:
            keys[name].append(index)
    for index, row in enumerate(dataset.extra.get("row", np.empty(0, dtype=np.int64)).tolist()):
        keys[str(row)].append(index)
    return keys


def select_subset(dataset: FaceDataset, path: str | Path) -> FaceDataset:
    """The images of ``dataset`` that the list file at ``path`` names, in dataset order.

    Raises:
        DataError: naming the file, how many lines matched no image of this split and the
            first few of them.
    """
    entries = read_subset_file(path)
    lookup = _lookup(dataset)
    chosen: set[int] = set()
    unmatched = []
    for entry in entries:
        key = str(int(entry)) if entry.isdigit() else entry
        if key in lookup:
            chosen.update(lookup[key])
        else:
            unmatched.append(entry)
    if unmatched:
        shown = ", ".join(repr(entry) for entry in unmatched[:SHOWN_UNMATCHED])
        more = ", ..." if len(unmatched) > SHOWN_UNMATCHED else ""
        raise DataError(
            f"{path}: {len(unmatched)} of {len(entries)} lines match no image of {dataset.name} split "
            f"{dataset.split!r}: {shown}{more}"
        )
    return dataset.subset(np.array(sorted(chosen), dtype=np.int64))
