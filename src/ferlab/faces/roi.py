"""`RoiDetector`: between full-frame searches, look for faces only near where they were.

In a video a face moves little from one frame to the next, so searching the whole frame
every time wastes most of the detector's work: on a 640x480 frame the Haar cascade takes
about 50 ms, on a region twice the size of a 72-pixel face a few milliseconds. The
detector is stateful: use one instance per video stream, never for unrelated images.
"""

from __future__ import annotations

import numpy as np

from ferlab.faces.base import Detector, Face
from ferlab.faces.boxes import nms_keep
from ferlab.faces.errors import FaceError

ROI_MARGIN = 0.5
"""Each side of a search region reaches past the last box by this fraction of the box's size."""
NMS_IOU = 0.3
"""Two regions can find the same face; boxes overlapping more than this are merged."""


class RoiDetector(Detector):
    """``inner`` on the full frame every ``full_every``-th call, else on regions around the last faces.

    A full search also runs whenever there is no face to follow, or when any followed face
    is not found again in its region (it moved too far, turned away or left), so a lost
    face costs one full search, and a new face entering the frame is found within
    ``full_every`` calls. ``full_every=1`` searches every frame fully.
    """

    def __init__(self, inner: Detector, full_every: int = 10, margin: float = ROI_MARGIN) -> None:
        if full_every < 1:
            raise FaceError(f"full_every (--search-every) must be at least 1, got {full_every}")
        self.inner = inner
        self.name = inner.name
        self.full_every = full_every
        self.margin = margin
        self._faces: list[Face] = []
        self._since_full = 0
        self.full_searches = 0
        """How many calls searched the full frame (for reports and tests)."""

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        self._since_full += 1
        found = self._follow(rgb) if self._faces and self._since_full < self.full_every else None
        if found is None:
            found = self.inner.detect(rgb)
            self._since_full = 0
            self.full_searches += 1
        self._faces = found
        return found

    def _follow(self, rgb: np.ndarray) -> list[Face] | None:
        """The faces found in the region of each followed face; None when one of them is lost."""
        height, width = rgb.shape[:2]
        found: list[Face] = []
        for face in self._faces:
            x1, y1, x2, y2 = face.box
            dx, dy = (x2 - x1) * self.margin, (y2 - y1) * self.margin
            left, top = int(max(0, x1 - dx)), int(max(0, y1 - dy))
            right, bottom = int(min(width, x2 + dx + 1)), int(min(height, y2 + dy + 1))
            hits = self.inner.detect(rgb[top:bottom, left:right]) if right > left and bottom > top else []
            if not hits:
                return None
            found.extend(_shifted(hit, left, top) for hit in hits)
        boxes = np.array([face.box for face in found], dtype=np.float32)
        scores = np.array([face.score for face in found], dtype=np.float32)
        return [found[i] for i in nms_keep(boxes, scores, NMS_IOU)]


def _shifted(face: Face, dx: float, dy: float) -> Face:
    x1, y1, x2, y2 = face.box
    landmarks = None if face.landmarks is None else face.landmarks + np.array([dx, dy], dtype=np.float32)
    return Face((x1 + dx, y1 + dy, x2 + dx, y2 + dy), face.score, landmarks)
