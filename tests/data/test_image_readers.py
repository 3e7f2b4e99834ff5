"""Image-folder, AffectNet and RAF-DB readers on small datasets in their real layouts."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferlab.data import SplitUnavailable, detect_dataset, load_dataset
from ferlab.errors import DataError, OptionError


def test_class_folders_with_splits(make_folder_tree) -> None:
    root = make_folder_tree({"train/happy": 3, "train/Angry": 2, "test/happy": 1, "test/neutral": 1})
    train = load_dataset("folder", root, "train")
    assert train.classes[0] == "angry" and train.class_counts()["happy"] == 3 and len(train) == 5
    assert train.images.shape == (5, 48, 48)
    assert "train/happy/img0.png" in train.ids
    assert len(load_dataset("folder", root, "all")) == 7
    with pytest.raises(SplitUnavailable, match="no val folder"):
        load_dataset("folder", root, "val")
    assert detect_dataset(root) == "folder"


def test_fer2013_jpeg_export_splits_test_folder_by_prefix(tmp_path: Path, gray_writer) -> None:
    for name in ("Training_1.jpg", "Training_2.jpg"):
        gray_writer(tmp_path / "train" / "sad" / name, 9)
    for name in ("PublicTest_1.jpg", "PrivateTest_1.jpg", "PrivateTest_2.jpg"):
        gray_writer(tmp_path / "test" / "surprise" / name, 9)
    assert [len(load_dataset("folder", tmp_path, s)) for s in ("train", "val", "test")] == [2, 1, 2]


def test_ck_plus_layout_gets_ferplus_label_set_and_resizing(tmp_path: Path, gray_writer) -> None:
    for cls in ("anger", "contempt", "happy"):
        gray_writer(tmp_path / "CK+48" / cls / "S005_001_00000011.png", 100, size=64)
    ck = load_dataset("folder", tmp_path / "CK+48", "all", color="rgb", size=32)
    assert ck.classes[-1] == "contempt" and ck.images.shape == (3, 32, 32, 3)
    with pytest.raises(DataError, match="contempt have no counterpart in the fer2013 label set"):
        load_dataset("folder", tmp_path / "CK+48", "all", label_set_name="fer2013")
    with pytest.raises(SplitUnavailable, match="read it with split 'all'"):
        load_dataset("folder", tmp_path / "CK+48", "train")


def test_holdout_splits_each_class_by_file_the_same_way_every_time(make_folder_tree) -> None:
    root = make_folder_tree({"happy": 10, "sad": 7, "angry": 3})
    train, val = (load_dataset("folder", root, split, holdout=0.3) for split in ("train", "val"))
    everything = set(load_dataset("folder", root, "all").ids)
    assert set(train.ids).isdisjoint(val.ids) and set(train.ids) | set(val.ids) == everything
    assert {k: v for k, v in val.class_counts().items() if v} == {"angry": 1, "happy": 3, "sad": 2}  # round(0.3 n)
    assert list(load_dataset("folder", root, "val", holdout=0.3).ids) == list(val.ids)
    assert len(load_dataset("folder", root, "all", holdout=0.3)) == 20
    with pytest.raises(SplitUnavailable, match="train and val parts only"):
        load_dataset("folder", root, "test", holdout=0.3)
    with pytest.raises(DataError, match="holdout must be in"):
        load_dataset("folder", root, "val", holdout=1.0)
    split_root = make_folder_tree({"train/happy": 2, "test/happy": 1}, root_name="split")
    with pytest.raises(DataError, match="has split folders already"):
        load_dataset("folder", split_root, "val", holdout=0.3)


def test_holdout_group_keeps_each_clip_in_one_part(tmp_path: Path, gray_writer) -> None:
    """Frames of one clip (SFEW's <film>_<clip>_<frame>.png) never straddle train and val."""
    for cls, clips in (("happy", 8), ("sad", 6)):
        for clip in range(clips):
            for frame in range(1 + clip % 3):  # clips of 1, 2 or 3 frames
                gray_writer(tmp_path / cls / f"Film{clip % 2}_{cls}{clip:03d}_{frame:08d}.png", 10 * frame)
    clip_of = lambda image_id: image_id.rsplit("_", 1)[0]  # noqa: E731
    parts = {
        split: load_dataset("folder", tmp_path, split, holdout=0.3, holdout_group=r"(.+)_\d+$")
        for split in ("train", "val")
    }
    train_clips, val_clips = ({clip_of(i) for i in parts[s].ids} for s in ("train", "val"))
    assert train_clips.isdisjoint(val_clips) and val_clips, "every clip lies in one part"
    assert len(parts["train"]) + len(parts["val"]) == 27  # happy 15 frames in 8 clips, sad 12 in 6
    counts = parts["val"].class_counts()
    assert 0 < counts["happy"] <= round(0.3 * 15) and 0 < counts["sad"] <= round(0.3 * 12)
    again = load_dataset("folder", tmp_path, "val", holdout=0.3, holdout_group=r"(.+)_\d+$")
    assert list(again.ids) == list(parts["val"].ids), "the same split every time"
    by_file = load_dataset("folder", tmp_path, "val", holdout=0.3)
    assert {clip_of(i) for i in by_file.ids} & {
        clip_of(i) for i in load_dataset("folder", tmp_path, "train", holdout=0.3).ids
    }, "a split by file does put frames of one clip on both sides (what the option is for)"
    with pytest.raises(DataError, match="no whole group of holdout_group .* fits in a 0.3 holdout"):
        load_dataset("folder", tmp_path, "train", holdout=0.3, holdout_group=r"^([^_]+)_")  # 2 films of ~half each
    with pytest.raises(DataError, match="not a regular expression"):
        load_dataset("folder", tmp_path, "val", holdout=0.3, holdout_group="(unclosed")
    with pytest.raises(DataError, match="holdout_group 'clip' matches no file name"):
        load_dataset("folder", tmp_path, "val", holdout=0.3, holdout_group="clip")  # a word for the regex
    with pytest.raises(DataError, match="needs a holdout fraction"):
        load_dataset("folder", tmp_path, "all", holdout_group="(.+)_")


def test_bad_files_are_skipped_and_reported_or_strict(make_folder_tree) -> None:
    root = make_folder_tree({"happy": 2, "sad": 1})
    (root / "happy" / "notes.txt").write_text("hello")
    (root / "sad" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "sad" / ".DS_Store").write_bytes(b"\0")
    data = load_dataset("folder", root, "all")
    assert len(data) == 3
    reasons = {Path(p.path).name: p.reason for p in data.problems}
    assert set(reasons) == {"notes.txt", "broken.jpg"}
    assert "not an image file" in reasons["notes.txt"]
    with pytest.raises(DataError, match="notes.txt"):
        load_dataset("folder", root, "all", strict=True)


def test_unknown_class_folder_and_class_map(make_folder_tree) -> None:
    root = make_folder_tree({"0": 1, "3": 2})
    with pytest.raises(DataError, match="unknown class folder '0'"):
        load_dataset("folder", root, "all")
    data = load_dataset("folder", root, "all", class_map={"0": "angry", "3": "happy"})
    assert data.class_counts()["happy"] == 2


def test_image_modes_are_converted(tmp_path: Path) -> None:
    folder = tmp_path / "happy"
    folder.mkdir()
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(folder / "deep.png")
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(folder / "cmyk.jpg")
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(folder / "clear.png")
    Image.new("P", (8, 8), 3).save(folder / "palette.gif")
    data = load_dataset("folder", tmp_path, "all", size=8)
    by_name = dict(zip([Path(i).name for i in data.ids], data.images))
    assert not data.problems and len(data) == 4
    assert by_name["deep.png"].mean() == pytest.approx(40000 / 65535 * 255, abs=1)
    assert by_name["cmyk.jpg"].mean() > 250 and by_name["clear.png"].mean() == 255


def _write_affectnet(root: Path) -> None:
    images = root / "Manually_Annotated_Images" / "1"
    images.mkdir(parents=True)
    picture = np.zeros((100, 100), np.uint8)
    picture[20:60, 30:70] = 200  # the "face"
    Image.fromarray(picture).save(images / "a.jpg", quality=100)
    Image.fromarray(picture).save(images / "b.png")
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
    rows = [
        "1/a.jpg,30,20,40,40,1;2;3,1,0.8,0.2",  # happy -> FERPlus happiness
        "1/b.png,30,20,40,40,1;2;3,7,-0.3,0.1",  # contempt
        "1/b.png,30,20,40,40,1;2;3,8,0,0",  # None: not an emotion, skipped
        "1/b.png,30,20,40,40,1;2;3,10,0,0",  # No-Face: skipped
        "1/missing.jpg,0,0,10,10,1;2,2,0,0",  # image missing: reported
        "1/b.png,500,500,10,10,1;2,2,0,0",  # box outside the image: reported
    ]
    (root / "training.csv").write_text("\n".join([header, *rows]) + "\n")
    (root / "validation.csv").write_text("\n".join([header, rows[0]]) + "\n")


def test_affectnet_crops_face_boxes_and_skips_non_emotions(tmp_path: Path) -> None:
    _write_affectnet(tmp_path)
    train = load_dataset("affectnet", tmp_path, "train", size=20)
    assert train.classes[list(train.labels)[0]] == "happiness" and train.classes[train.labels[1]] == "contempt"
    assert len(train) == 2 and train.images.min() > 150, "crop must hold only the bright face box"
    assert np.allclose(train.extra["valence"], [0.8, -0.3])
    assert sorted(p.reason.split(" ")[0] for p in train.problems) == ["face", "file"]
    assert len(load_dataset("affectnet", tmp_path, "test")) == 1
    assert detect_dataset(tmp_path) == "affectnet"
    with pytest.raises(DataError, match="missing column"):
        (tmp_path / "validation.csv").write_text("subDirectory_filePath,expression\n1/a.jpg,1\n")
        load_dataset("affectnet", tmp_path, "val")


def test_rafdb_list_and_aligned_images(tmp_path: Path, gray_writer) -> None:
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text(
        "train_00001.jpg 4\ntrain_00002.jpg 7\ntest_0001.jpg 1\ntrain_00003.jpg 9\n"
    )
    for name in ("train_00001", "train_00002", "test_0001"):
        gray_writer(tmp_path / "Image" / "aligned" / f"{name}_aligned.jpg", 50, size=100)
    train = load_dataset("rafdb", tmp_path, "train")
    assert [train.classes[i] for i in train.labels] == ["happy", "neutral"]
    assert "line 4" in str(train.problems[0])
    test = load_dataset("rafdb", tmp_path, "test", color="rgb", size=100)
    assert test.images.shape == (1, 100, 100, 3) and test.classes[test.labels[0]] == "surprise"
    with pytest.raises(SplitUnavailable, match="no validation split"):
        load_dataset("rafdb", tmp_path, "val")
    assert detect_dataset(tmp_path) == "rafdb"


def test_load_dataset_rejects_unknown_names_and_options(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="unknown dataset 'kdef'"):
        load_dataset("kdef", tmp_path)
    with pytest.raises(DataError, match="has no option mode; its options: label_set_name"):
        load_dataset("folder", tmp_path, mode="majority")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_dataset("folder", tmp_path, "dev")
