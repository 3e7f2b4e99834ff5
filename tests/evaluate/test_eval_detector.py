"""Scoring a face detector on a WIDER FACE-format folder: the rules counted by hand, the CLI on a
folder written here, and errors that name the file."""

from __future__ import annotations

import csv
import itertools
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from ferlab.errors import FerlabError
from ferlab.evaluate.detection import (
    AnnotatedPhoto,
    average_precision,
    listed_photos,
    read_wider,
    score_detector,
    score_photo,
)
from ferlab.faces import Detector, Face, get_detector

ASTRONAUT = Path(__file__).resolve().parents[2] / "src" / "ferlab" / "assets" / "astronaut.png"
# The astronaut's face, cheek to cheek and fringe to chin, as tests/faces/conftest.py measures it.
FACE_XYWH = "178 74 92 102"

# Ground truth of one photo: A 100 px face, B 50 px, C a 10 px one, D a 100 px box flagged invalid.
TRUTH = AnnotatedPhoto(
    "e/p.jpg",
    np.array([[0, 0, 100, 100], [200, 0, 250, 50], [300, 0, 310, 10], [400, 0, 500, 100]], np.float64),
    np.array([False, False, False, True]),
)


def test_rules_counted_by_hand() -> None:
    boxes = [
        (0, 0, 100, 100),  # 0.9 takes A: a hit
        (5, 5, 100, 100),  # 0.8 A is taken: a duplicate on a face, left out
        (300, 0, 310, 10),  # 0.7 takes the 10 px face C: not counted, not false
        (400, 0, 500, 100),  # 0.6 on the invalid box D: not counted, not false
        (600, 600, 700, 700),  # 0.5 touches no box: false
        (190, 0, 260, 60),  # 0.4 IoU 2500 / 4200 = 0.60 with B: a hit
    ]
    result = score_photo(TRUTH, np.array(boxes), np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]))
    assert result.faces == {40: 2, 80: 1} and result.found == {40: 2, 80: 1}
    assert (result.boxes, result.false_boxes) == (6, 1)
    assert result.scores.tolist() == [0.9, 0.5, 0.4] and result.hits.tolist() == [True, False, True]
    # Precision 1/1 where A is found, 2/3 where B is: AP = (1 + 2/3) / 2.
    assert average_precision(result.scores, result.hits, 2) == pytest.approx(5 / 6)


def test_loose_box_is_neither_found_nor_false() -> None:
    result = score_photo(TRUTH, np.array([(0, 0, 100, 40)]), np.array([0.9]))  # IoU 0.4 with A
    assert result.found == {40: 0, 80: 0} and result.false_boxes == 0 and len(result.scores) == 0


def test_a_photo_with_no_face_makes_every_box_false() -> None:
    empty = AnnotatedPhoto("e/none.jpg", np.empty((0, 4)), np.empty(0, bool))
    result = score_photo(empty, np.array([(0, 0, 50, 50)]), np.array([0.9]))
    assert result.faces == {40: 0, 80: 0} and result.false_boxes == 1 and result.hits.tolist() == [False]


def test_average_precision_without_any_detection_is_zero() -> None:
    """A threshold above every score leaves no detection (yunet:threshold=0.95 on the WIDER photos)."""
    assert average_precision(np.empty(0), np.empty(0, bool), positives=3) == 0.0


def test_average_precision_is_sklearns_scaled_to_every_face() -> None:
    """With every face found, AP is sklearn's; with some never found, sklearn's times the share found."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.integers(0, 6, 30) / 5  # ties included
        hits = rng.random(30) < 0.6
        if not hits.any():
            continue
        for missed in (0, 7):
            expected = average_precision_score(hits, scores) * hits.sum() / (hits.sum() + missed)
            assert average_precision(scores, hits, int(hits.sum()) + missed) == pytest.approx(expected)


def write_wider(root: Path, photos: dict[str, tuple[np.ndarray | None, list[str]]]) -> None:
    """A WIDER FACE-format folder: each photo (None: listed but not written) with its box lines."""
    lines = []
    for name, (image, boxes) in photos.items():
        if image is not None:
            path = root / "WIDER_val" / "images" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), image)
        lines += [name, str(len(boxes)), *(boxes or ["0 0 0 0 0 0 0 0 0 0"])]
    truth = root / "wider_face_split" / "wider_face_val_bbx_gt.txt"
    truth.parent.mkdir(parents=True)
    truth.write_text("\n".join(lines) + "\n")


@pytest.fixture
def wider(tmp_path: Path) -> Path:
    root = tmp_path / "wider"
    write_wider(
        root,
        {
            # The astronaut: her face, a 4 px face on the wall and an invalid box on the flag.
            "1--A/astronaut.jpg": (
                cv2.imread(str(ASTRONAUT)),
                [f"{FACE_XYWH} 0 0 0 0 0 0", "10 10 4 4 0 0 0 0 0 0", "400 20 60 60 0 0 0 1 0 0"],
            ),
            "2--B/gray.jpg": (np.full((300, 400, 3), 128, np.uint8), []),
            "2--B/missing.jpg": (None, ["0 0 50 50 0 0 0 0 0 0"]),
        },
    )
    return root


def test_clock_is_injected_and_unreadable_photos_are_listed(wider: Path) -> None:
    class Fixed(Detector):
        name = "fixed"

        def _detect(self, rgb: np.ndarray) -> list[Face]:
            return [Face((178.0, 74.0, 270.0, 176.0), 0.9), Face((0.0, 200.0, 40.0, 240.0), 0.3)]

    ticks = itertools.count(step=0.25)
    score = score_detector(Fixed(), wider, "fixed", clock=lambda: next(ticks))
    assert [p.file for p in score.photos] == ["1--A/astronaut.jpg", "2--B/gray.jpg"]
    assert [p.ms for p in score.photos] == [250.0, 250.0]
    assert [str(p) for p in score.problems] == [f"{wider}/WIDER_val/images/2--B/missing.jpg: file not found"]
    summary = score.summary()
    # The hit shares score 0.9 with the false box on the gray photo: precision 1/2 at that threshold.
    assert summary["recall_40"] == 1.0 and summary["faces_80"] == 1 and summary["ap_40"] == 0.5
    assert summary["false_per_photo"] == 1.5 and summary["false_share"] == 0.75


def test_every_other_photo_splits_the_folder_in_two_interleaved_halves(wider: Path) -> None:
    def files(**selection: int) -> list[str]:
        return [photo.file for photo in listed_photos(wider, **selection)]

    assert files(every=2, start=0) == ["1--A/astronaut.jpg", "2--B/missing.jpg"]
    assert files(every=2, start=1) == ["2--B/gray.jpg"]
    assert files(limit=1, every=2, start=0) == ["1--A/astronaut.jpg"]
    score = score_detector(get_detector("none"), wider, "none", every=2, start=1)
    assert [p.file for p in score.photos] == ["2--B/gray.jpg"] and not score.problems
    with pytest.raises(FerlabError, match=r"^photo selection: expected every >= 1 and 0 <= start < every, got "):
        listed_photos(wider, every=2, start=2)


def ferlab(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferlab", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_cli_scores_the_default_detector_and_writes_one_row_per_photo(wider: Path, tmp_path: Path) -> None:
    done = ferlab("eval-detector", "blazeface", "--data-root", str(wider), "--out", "scores.csv", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # one photo skipped, the others scored
    assert "skipped:" in done.stderr and "missing.jpg: file not found" in done.stderr
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert [(r["file"], r["faces_40"], r["found_40"], r["false_boxes"]) for r in rows] == [
        ("1--A/astronaut.jpg", "1", "1", "0"),
        ("2--B/gray.jpg", "0", "0", "0"),
    ]
    for key, value in (("photos", "2"), ("recall_40", "100.0%"), ("ap_40", "100.0%"), ("false_per_photo", "0.00")):
        assert re.search(rf"│ {key} +│ {re.escape(value)} +│", done.stdout), (key, done.stdout)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", "wider_face_val_bbx_gt.txt, line 4: expected 10 numbers"),
        ("a.jpg\ntwo\n", "wider_face_val_bbx_gt.txt, line 2: expected the photo's box count"),
        ("\n", "wider_face_val_bbx_gt.txt: no photo listed"),
    ],
)
def test_malformed_ground_truth_names_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    truth = tmp_path / "wider_face_split" / "wider_face_val_bbx_gt.txt"
    truth.parent.mkdir()
    truth.write_text(text)
    with pytest.raises(FerlabError, match=message):
        read_wider(tmp_path)


def test_cli_without_ground_truth_says_so_in_one_line(tmp_path: Path) -> None:
    done = ferlab("eval-detector", "opencv", "--data-root", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "wider_face_val_bbx_gt.txt: cannot read the WIDER FACE ground truth" in done.stderr


def test_real_widerface_subset_when_present() -> None:
    root = Path(__file__).resolve().parents[3] / "shared" / "data" / "widerface"
    if not (root / "wider_face_split").is_dir():
        pytest.skip(f"{root} is absent (the shared WIDER FACE subset)")
    photos = read_wider(root)
    assert len(photos) == 333 and sum(len(p.boxes) for p in photos) == 9156
