"""FERPlus: the label modes of the reference code, both layouts, and the real counts."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferlab.data import load_dataset
from ferlab.data.ferplus import vote_targets
from ferlab.errors import DataError, OptionError

#            neu hap sur sad ang dis fea con unk NF
VOTES = [
    [4, 0, 0, 1, 3, 2, 0, 0, 0, 0],  # majority: 4 of 9 after dropping the 1 -> no majority
    [6, 0, 1, 1, 0, 0, 0, 0, 2, 0],  # 6 of 8 -> neutral
    [0, 9, 0, 0, 0, 0, 0, 0, 1, 0],  # happiness
    [0, 0, 0, 0, 0, 0, 0, 0, 4, 6],  # NF wins -> dropped in every mode
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # all single votes -> nothing left -> dropped
    [3, 0, 0, 0, 0, 0, 0, 0, 7, 0],  # unknown wins -> dropped
]


def test_majority_rule() -> None:
    targets, keep = vote_targets(np.array(VOTES), "majority")
    assert keep.tolist() == [False, True, True, False, False, False]
    assert targets[1].argmax() == 0 and targets[2].argmax() == 1
    assert np.allclose(targets[keep].sum(axis=1), 1.0) and not targets[~keep].any()


def test_probability_rule_matches_reference_code() -> None:
    targets, keep = vote_targets(np.array(VOTES), "probability")
    assert keep.tolist() == [True, True, True, False, False, False]
    # row 0: after dropping the single vote, 4 + 3 = 7 of 9 votes (>= 75%) in two groups
    assert np.allclose(targets[0], [4 / 7, 0, 0, 0, 3 / 7, 0, 0, 0])
    # row 1: neutral (6) covers 75% of 8 at once; the unknown votes never enter
    assert np.allclose(targets[1], [1, 0, 0, 0, 0, 0, 0, 0])


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(OptionError, match="unknown FERPlus mode 'vote'"):
        vote_targets(np.array(VOTES), "vote")


def _write_csv_layout(folder: Path, csv_writer, rows_factory) -> None:
    csv_writer(folder / "fer2013.csv", rows_factory({"Training": 4, "PublicTest": 1, "PrivateTest": 1}))
    names = ["fer0000000.png", "fer0000001.png", "", "fer0000003.png", "fer0000004.png", "fer0000005.png"]
    usages = ["Training"] * 4 + ["PublicTest", "PrivateTest"]
    votes = [VOTES[1], VOTES[2], VOTES[2], VOTES[3], VOTES[2], VOTES[1]]
    lines = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    lines += [f"{u},{n},{','.join(map(str, v))}" for u, n, v in zip(usages, names, votes)]
    (folder / "fer2013new.csv").write_text("\n".join(lines) + "\n")


def test_csv_layout(tmp_path: Path, csv_writer, rows_factory) -> None:
    _write_csv_layout(tmp_path, csv_writer, rows_factory)
    train = load_dataset("ferplus", tmp_path, "train")
    assert list(train.ids) == ["fer0000000.png", "fer0000001.png"]  # empty name dropped, NF dropped
    assert list(train.labels) == [0, 1] and train.classes[1] == "happiness"
    assert list(train.extra["row"]) == [0, 1]
    fer = load_dataset("fer2013", tmp_path, "train")
    assert np.array_equal(train.images, fer.images[:2])
    assert len(load_dataset("ferplus", tmp_path, "val")) == len(load_dataset("ferplus", tmp_path, "test")) == 1
    soft = load_dataset("ferplus", tmp_path, "train", mode="crossentropy")
    assert soft.target_mode == "crossentropy" and soft.targets.shape == (2, 8)


def test_csv_layout_errors(tmp_path: Path, csv_writer, rows_factory) -> None:
    csv_writer(tmp_path / "fer2013.csv", rows_factory())
    with pytest.raises(DataError, match="no FERPlus labels found"):
        load_dataset("ferplus", tmp_path, "train")
    (tmp_path / "fer2013new.csv").write_text("Usage,Image name,neutral\nTraining,a.png,3\n")
    with pytest.raises(DataError, match="missing column"):
        load_dataset("ferplus", tmp_path, "train")
    _write_csv_layout(tmp_path, csv_writer, rows_factory)
    csv_writer(tmp_path / "fer2013.csv", rows_factory())  # 12 rows against 6 label rows
    with pytest.raises(DataError, match="6 rows but the FER2013 file has 12"):
        load_dataset("ferplus", tmp_path, "train")


def test_png_export_layout_skips_bad_images(tmp_path: Path) -> None:
    for folder, count in (("FER2013Train", 3), ("FER2013Valid", 1), ("FER2013Test", 1)):
        (tmp_path / folder).mkdir()
        lines = []
        for i in range(count):
            name = f"fer{folder[7:]}{i}.png"
            Image.fromarray(np.full((48, 48), 20 * i, np.uint8)).save(tmp_path / folder / name)
            lines.append(f'{name},"(0, 0, 48, 48)",{",".join(map(str, VOTES[2]))}')
        (tmp_path / folder / "label.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "FER2013Train" / "ferTrain1.png").write_bytes(b"not a png")
    train = load_dataset("ferplus", tmp_path, "train")
    assert list(train.ids) == ["ferTrain0.png", "ferTrain2.png"]
    assert train.images[1].mean() == 40 and list(train.labels) == [1, 1]
    assert len(train.problems) == 1 and "ferTrain1.png" in str(train.problems[0])
    with pytest.raises(DataError, match="ferTrain1.png"):
        load_dataset("ferplus", tmp_path, "train", strict=True)
    assert len(load_dataset("ferplus", tmp_path, "all")) == 4


def test_real_ferplus_majority_sizes(fer2013_root: Path) -> None:
    sizes = [len(load_dataset("ferplus", fer2013_root, s)) for s in ("train", "val", "test")]
    assert sizes == [25060, 3199, 3153]
