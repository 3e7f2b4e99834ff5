"""Subset list files: dataset indices, FERPlus names, folder paths, and unmatched lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ferlab.data.labels import FER2013_CLASSES, FERPLUS_CLASSES
from ferlab.errors import DataError
from ferlab.evaluate import select_subset


@pytest.fixture
def list_file(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "subset.txt"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def ferplus(make_faces):
    rows = np.array([3, 5, 8, 13, 21])
    names = np.array([f"fer{row:07d}.png" for row in rows])
    return make_faces(FERPLUS_CLASSES, [0, 1, 2, 3, 4], name="ferplus", ids=names, extra={"row": rows})


def test_fer2013_rows_by_index_with_comments_and_blank_lines(make_faces, list_file) -> None:
    faces = make_faces(FER2013_CLASSES, range(7), ids=np.arange(100, 107))
    subset = select_subset(faces, list_file("# rows to check\n105\n\n 101  # the first\n0102\n"))
    assert subset.ids.tolist() == [101, 102, 105]  # dataset order, leading zeros allowed
    assert (subset.images == faces.images[[1, 2, 5]]).all()
    assert subset.labels.tolist() == [1, 2, 5]


def test_ferplus_by_image_name_and_by_fer2013_row(ferplus, list_file) -> None:
    subset = select_subset(ferplus, list_file("fer0000021.png\n5\n"))
    assert subset.ids.tolist() == ["fer0000005.png", "fer0000021.png"]
    assert subset.extra["row"].tolist() == [5, 21]


def test_folder_paths_by_full_path_and_by_file_name(make_faces, list_file) -> None:
    ids = np.array(["test/happy/a.png", "test/sad/b.png", "test/sad/c.png"])
    faces = make_faces(FER2013_CLASSES, [3, 4, 4], name="folder", ids=ids)
    assert select_subset(faces, list_file("c.png\ntest/happy/a.png\n")).ids.tolist() == [ids[0], ids[2]]


def test_unmatched_lines_are_an_error_naming_file_count_and_first_lines(ferplus, list_file) -> None:
    path = list_file("fer0000003.png\n" + "".join(f"fer99{i:05d}.png\n" for i in range(7)) + "4\n")
    with pytest.raises(DataError) as caught:
        select_subset(ferplus, path)
    message = str(caught.value)
    assert str(path) in message and "8 of 9 lines match no image" in message
    assert "'fer9900000.png'" in message and "'fer9900004.png'" in message and "'4'" not in message
    assert "\n" not in message


def test_empty_or_missing_list_is_an_error(ferplus, list_file, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="names no images"):
        select_subset(ferplus, list_file("# nothing\n\n"))
    with pytest.raises(DataError, match="cannot read the subset list"):
        select_subset(ferplus, tmp_path / "absent.txt")
