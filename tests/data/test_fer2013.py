"""FER2013 readers: the four file layouts, splits, bad input, and the real data."""

from pathlib import Path

import numpy as np
import pytest

from ferlab.data import load_dataset
from ferlab.errors import DataError


def test_reads_fer2013_csv_splits(fer2013_csv: Path) -> None:
    train = load_dataset("fer2013", fer2013_csv.parent, "train")
    val = load_dataset("fer2013", fer2013_csv, "val")
    test = load_dataset("fer2013", fer2013_csv.parent, "PrivateTest")
    assert (len(train), len(val), len(test)) == (6, 3, 3)
    assert train.images.shape == (6, 48, 48) and train.images.dtype == np.uint8
    assert list(train.labels) == [0, 1, 2, 3, 4, 5]
    assert list(test.ids) == [9, 10, 11]
    assert train.classes[3] == "happy"


def test_pixels_are_row_major(tmp_path: Path, csv_writer) -> None:
    pixels = np.arange(48 * 48) % 256
    path = csv_writer(tmp_path / "fer2013.csv", [(3, " ".join(map(str, pixels)), "Training")])
    image = load_dataset("fer2013", path, "train").images[0]
    assert image[0, 1] == 1 and image[1, 0] == 48 and image[2, 0] == 96


def test_gzip_and_icml_header_give_same_data(tmp_path: Path, rows_factory, csv_writer) -> None:
    rows = rows_factory()
    for name in "abc":
        (tmp_path / name).mkdir()
    plain = load_dataset("fer2013", csv_writer(tmp_path / "a" / "fer2013.csv", rows), "all")
    gz = load_dataset("fer2013", csv_writer(tmp_path / "b" / "fer2013.csv.gz", rows), "all")
    icml_file = csv_writer(tmp_path / "c" / "icml_face_data.csv", rows, header="emotion, Usage, pixels")
    icml = load_dataset("fer2013", icml_file.parent, "all")
    for other in (gz, icml):
        assert np.array_equal(plain.images, other.images)
        assert np.array_equal(plain.labels, other.labels)


def test_kaggle_train_test_pair(tmp_path: Path, rows_factory) -> None:
    train_rows = rows_factory({"Training": 4})
    (tmp_path / "train.csv").write_text("emotion,pixels\n" + "".join(f"{e},{p}\n" for e, p, _ in train_rows))
    test_pixels = " ".join(["7"] * 48 * 48)
    (tmp_path / "test.csv").write_text("pixels\n" + f"{test_pixels}\n" * (3589 * 2))
    assert len(load_dataset("fer2013", tmp_path, "train")) == 4
    val, test = load_dataset("fer2013", tmp_path, "val"), load_dataset("fer2013", tmp_path, "test")
    assert len(val) == len(test) == 3589
    assert (test.labels == -1).all(), "Kaggle's test.csv has no labels"
    assert np.array_equal(test.ids, np.arange(4 + 3589, 4 + 2 * 3589))


def test_missing_file_names_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no FER2013 file found.*fer2013.csv"):
        load_dataset("fer2013", tmp_path, "train")
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset("fer2013", tmp_path / "nope.csv", "train")


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("emotion,pix,Usage", "0,1 2,Training", "no 'pixels' column"),
        ("emotion,pixels", "0,1 2", "no 'Usage' column"),
        ("emotion,pixels,Usage", "0," + " ".join(["7"] * 2303) + ",Training", r"line 3: expected 2304 .* found 2303"),
        ("emotion,pixels,Usage", "0," + " ".join(["7"] * 2303) + " x,Training", r"line 3: pixel value 'x'"),
        ("emotion,pixels,Usage", "0," + " ".join(["300"] * 2304) + ",Training", "line 3: pixel values must lie"),
        ("emotion,pixels,Usage", "9," + " ".join(["7"] * 2304) + ",Training", "line 3: emotion '9'"),
        ("emotion,pixels,Usage", "1," + " ".join(["7"] * 2304) + ",Train", "line 3: Usage 'Train'"),
    ],
    ids=["columns", "no-usage", "short-row", "not-a-number", "out-of-range", "bad-emotion", "bad-usage"],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, header: str, row: str, message: str) -> None:
    good = "0," + " ".join(["5"] * 2304) + ",Training"
    if header.count(",") == 1:
        good = "0," + " ".join(["5"] * 2304)
    path = tmp_path / "fer2013.csv"
    path.write_text(f"{header}\n{good}\n{row}\n")
    with pytest.raises(DataError, match=message) as error:
        load_dataset("fer2013", path, "train")
    assert str(path) in str(error.value)


def test_real_fer2013_split_sizes_and_private_test_counts(fer2013_root: Path) -> None:
    sizes = {split: len(load_dataset("fer2013", fer2013_root, split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 28709, "val": 3589, "test": 3589}
    test = load_dataset("fer2013", fer2013_root, "test")
    assert list(test.class_counts().values()) == [491, 55, 528, 879, 594, 416, 626]
