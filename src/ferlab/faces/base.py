"""What every face detector shares: the `Face` record, image checks and the `Detector` base class.

Kept apart from the backends (`ferlab.faces.detectors`, `ferlab.faces.mtcnn`) so that
they all import it and none imports another.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from ferlab.faces.errors import FaceError

BoxXYXY = tuple[float, float, float, float]
"""A face box ``(x1, y1, x2, y2)`` in pixels, x2 and y2 exclusive."""


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face.

    box: (x1, y1, x2, y2) in pixel coordinates of the image given to ``detect``
        (x2 and y2 exclusive, so ``x2 - x1`` is the width).
    score: the backend's confidence, higher is surer; scales differ between backends.
    landmarks: float32 array of shape (K, 2) holding (x, y) points, K = 68 (iBUG 300-W
        order), 6 (BlazeFace order: left eye, right eye, nose tip, mouth centre, left and right
        ear tragion) or 5 (MTCNN order: left eye, right eye, nose, left and right mouth corner),
        "left" meaning the image's left; or None when the backend gives none.
    """

    box: BoxXYXY
    score: float
    landmarks: np.ndarray | None = None


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Check an image and return it as a contiguous RGB ``uint8`` array of shape (H, W, 3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise FaceError(f"expected a uint8 image, got dtype {image.dtype}: scale it to 0-255 and cast to uint8")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise FaceError(f"expected an RGB image of shape (H, W, 3) or grayscale (H, W), got shape {image.shape}")
    if image.size == 0:
        raise FaceError(f"the image is empty (shape {image.shape})")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image)


def package_folder(package: str, extra: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FaceError(missing_extra(extra))
    return Path(next(iter(spec.submodule_search_locations)))


def missing_extra(extra: str) -> str:
    """The message for a backend whose optional packages are not installed."""
    return f'the "{extra}" face detector needs its optional packages: pip install "ferlab[{extra}]"'


class Detector(ABC):
    """A face detector: ``detect(image) -> list[Face]``."""

    name: ClassVar[str]

    def detect(self, image: np.ndarray) -> list[Face]:
        """Find the faces in an RGB (H, W, 3) or grayscale (H, W) ``uint8`` image."""
        rgb = as_rgb(image)
        height, width = rgb.shape[:2]
        faces = [replace(face, box=_clip(face.box, width, height)) for face in self._detect(rgb)]
        return sorted(faces, key=lambda face: face.score, reverse=True)

    @abstractmethod
    def _detect(self, rgb: np.ndarray) -> list[Face]:
        """Find the faces in a checked RGB image; boxes may reach past its borders."""


def _clip(box: BoxXYXY, width: int, height: int) -> BoxXYXY:
    x1, y1, x2, y2 = box
    return (
        float(min(max(x1, 0.0), width)),
        float(min(max(y1, 0.0), height)),
        float(min(max(x2, 0.0), width)),
        float(min(max(y2, 0.0), height)),
    )
