"""Synthetic occlusion grays out exactly the documented region."""

from __future__ import annotations

import numpy as np
import pytest

from ferlab.errors import FerlabError
from ferlab.evaluate import occlude
from ferlab.evaluate.robustness import GRAY


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return before != after


@pytest.mark.parametrize(("mode", "rows"), [("eyes", slice(10, 22)), ("mouth", slice(31, 43))])
def test_bands_cover_their_rows_of_a_48px_face(mode: str, rows: slice) -> None:
    images = np.zeros((3, 48, 48), np.uint8)
    occluded = occlude(images, mode)
    expected = np.zeros_like(images, dtype=bool)
    expected[:, rows] = True
    assert (_changed(images, occluded) == expected).all()
    assert (occluded[:, rows] == GRAY).all()
    assert (images == 0).all()  # the input is not modified


def test_bands_scale_with_the_image_and_cover_every_rgb_channel() -> None:
    images = np.zeros((2, 100, 80, 3), np.uint8)
    occluded = occlude(images, "eyes")
    rows = np.flatnonzero(_changed(images, occluded).any(axis=(0, 2, 3)))
    assert (rows.min(), rows.max()) == (20, 44)
    assert (occluded[:, 20:45] == GRAY).all()


def test_random_occludes_one_third_side_square_per_image_reproducibly() -> None:
    images = np.zeros((20, 48, 48), np.uint8)
    occluded = occlude(images, "random", seed=3)
    tops_lefts = set()
    for before, after in zip(images, occluded):
        rows, columns = np.nonzero(_changed(before, after))
        assert rows.size == 16 * 16
        assert (rows.max() - rows.min(), columns.max() - columns.min()) == (15, 15)
        assert (after[rows, columns] == GRAY).all()
        tops_lefts.add((rows.min(), columns.min()))
    assert len(tops_lefts) > 1  # positions vary between images
    assert (occlude(images, "random", seed=3) == occluded).all()
    assert (occlude(images, "random", seed=4) != occluded).any()


def test_none_leaves_images_alone_and_unknown_modes_are_errors() -> None:
    images = np.zeros((1, 48, 48), np.uint8)
    assert occlude(images, "none") is images
    with pytest.raises(FerlabError, match="unknown occlusion mode 'nose'"):
        occlude(images, "nose")
