"""Stable face ids across video frames: a greedy IoU tracker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ferlab.faces.base import BoxXYXY
from ferlab.faces.boxes import box_iou


class IoUTracker:
    """Give each face box an integer id that stays the same from frame to frame.

    Each `update` matches the new boxes to the live tracks by IoU with the track's last
    box, greedily, highest IoU first; pairs under ``iou_threshold`` never match. An
    unmatched box starts a new track (ids count up from 0, never reused). A track survives
    up to ``max_missed`` consecutive updates without a match; one more and it is dropped,
    so a face that comes back later gets a new id.
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5) -> None:
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self._boxes: dict[int, BoxXYXY] = {}
        self._missed: dict[int, int] = {}
        self._next_id = 0

    def update(self, boxes: Sequence[BoxXYXY]) -> list[int]:
        """The track id of each of ``boxes`` (``(x1, y1, x2, y2)``), in their order."""
        track_ids = list(self._boxes)
        iou = box_iou(np.asarray(boxes), np.asarray([self._boxes[t] for t in track_ids]))
        ids: list[int | None] = [None] * len(boxes)
        for b, t in zip(*np.unravel_index(np.argsort(-iou, axis=None, kind="stable"), iou.shape)):
            if iou[b, t] < self.iou_threshold:
                break
            if ids[b] is None and track_ids[t] not in ids:
                ids[b] = track_ids[t]
        for track in set(track_ids) - set(ids):
            self._missed[track] += 1
            if self._missed[track] > self.max_missed:
                del self._boxes[track], self._missed[track]
        for b, box in enumerate(boxes):
            if ids[b] is None:
                ids[b], self._next_id = self._next_id, self._next_id + 1
            self._boxes[ids[b]], self._missed[ids[b]] = tuple(box), 0
        return ids
