"""`RoiDetector`: full searches every K frames, region searches in between, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from ferlab.faces import Detector, Face, FaceError, get_detector
from ferlab.faces.roi import RoiDetector


class BrightSquareDetector(Detector):
    """ "Finds" the white square drawn by `_frame`, remembering the shape of every image searched."""

    name = "square"

    def __init__(self) -> None:
        self.searched: list[tuple[int, int]] = []

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        self.searched.append(rgb.shape[:2])
        ys, xs = np.nonzero(rgb[:, :, 0] > 128)
        return (
            [Face((float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)), 1.0)] if len(xs) else []
        )


def _frame(x: int = 300, y: int = 200, side: int = 80) -> np.ndarray:
    """A black 640x480 frame with a white ``side`` square at ``(x, y)``."""
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[y : y + side, x : x + side] = 255
    return frame


def test_searches_fully_every_k_frames_and_near_the_face_in_between() -> None:
    inner = BrightSquareDetector()
    roi = RoiDetector(inner, full_every=4)
    boxes = [roi.detect(_frame(300 + 5 * i))[0].box for i in range(6)]
    assert boxes == [(300.0 + 5 * i, 200.0, 380.0 + 5 * i, 280.0) for i in range(6)]  # frame pixels
    assert inner.searched == [(480, 640), (161, 161), (161, 161), (161, 161), (480, 640), (161, 161)]
    assert roi.full_searches == 2


def test_a_face_lost_in_its_region_triggers_a_full_search() -> None:
    inner = BrightSquareDetector()
    roi = RoiDetector(inner, full_every=100)
    roi.detect(_frame(10, 10, 40))
    found = roi.detect(_frame(500, 350, 60))  # it jumps across the frame: the region misses it
    assert [face.box for face in found] == [(500.0, 350.0, 560.0, 410.0)]
    assert roi.full_searches == 2 and inner.searched[1:] == [(71, 71), (480, 640)]


def test_no_face_means_a_full_search_every_frame() -> None:
    roi = RoiDetector(BrightSquareDetector(), full_every=10)
    for _ in range(3):
        assert roi.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert roi.full_searches == 3


def test_follows_the_real_astronaut_face_as_it_moves(astronaut: np.ndarray) -> None:
    roi = RoiDetector(get_detector("opencv"), full_every=30)
    for shift in range(0, 60, 6):
        frame = np.full((600, 700, 3), 120, np.uint8)
        frame[40:552, shift : shift + 512] = astronaut
        faces = roi.detect(frame)
        assert len(faces) == 1
        x1, y1, x2, y2 = faces[0].box
        assert 150 < x1 - shift < 210 and 90 < y1 < 150 and 60 < x2 - x1 < 130
    assert roi.full_searches == 1


def test_full_every_must_be_positive() -> None:
    with pytest.raises(FaceError, match="must be at least 1"):
        RoiDetector(get_detector("opencv"), full_every=0)
