"""Box arithmetic of the face pipeline on numpy and OpenCV: IoU and non-maximum suppression.

Boxes are float arrays ``(N, 4)`` of ``(x1, y1, x2, y2)`` pixels (`ferlab.faces.base.BoxXYXY`).
Suppression is OpenCV's (`cv2.dnn.NMSBoxes`, `cv2.dnn.NMSBoxesBatched`), which takes
``(x, y, w, h)`` boxes and computes IoU with areas ``w * h``, as torchvision's ``nms`` does.
"""

from __future__ import annotations

import cv2
import numpy as np


def _ranks(scores: np.ndarray) -> list[float]:
    """Scores shifted to be >= 1 (OpenCV keeps only scores above its threshold, which must be >= 0, and Haar
    scores can be negative): suppression only uses their order."""
    scores = np.asarray(scores, dtype=np.float64)
    return (scores - float(scores.min()) + 1.0).tolist()


def _xywh(boxes: np.ndarray) -> list[list[float]]:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).tolist()


def nms_keep(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes that survive non-maximum suppression at ``iou``, best score first."""
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxes(_xywh(boxes), _ranks(scores), 0.0, float(iou))
    return _by_score(np.asarray(keep, dtype=np.int64).reshape(-1), scores)


def batched_nms_keep(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, iou: float) -> np.ndarray:
    """Like `nms_keep`, but boxes only suppress boxes of their own group (e.g. pyramid level)."""
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxesBatched(_xywh(boxes), _ranks(scores), np.asarray(groups, np.int64).tolist(), 0.0, float(iou))
    return _by_score(np.asarray(keep, dtype=np.int64).reshape(-1), scores)


def _by_score(keep: np.ndarray, scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-np.asarray(scores)[keep], kind="stable")
    return keep[order]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` intersection over union of two sets of ``(x1, y1, x2, y2)`` boxes."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
