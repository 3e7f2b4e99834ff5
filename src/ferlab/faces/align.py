"""Face alignment: level the eye line, crop the box with a margin, resize for a model.

One affine warp does all three, the usual similarity alignment of face pipelines: rotate
about the box centre by the angle of the line between the eye centres (when the face has
landmarks), scale so that the box plus ``margin`` on every side fits the output, and
centre it. Parts of the crop past the image borders are filled with black.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ferlab.faces.base import Face, as_rgb
from ferlab.faces.errors import FaceError


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (image-left, image-right) eye centres from 68-, 6- or 5-point landmarks.

    68 points follow iBUG 300-W (eyes are points 36-41 and 42-47, 0-based); 6 points follow
    BlazeFace and 5 points MTCNN, both starting with the left eye, then the right eye.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape == (68, 2):
        return points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    if points.shape in ((5, 2), (6, 2)):
        return points[0], points[1]
    raise FaceError(f"expected landmarks of shape (68, 2), (6, 2) or (5, 2), got {points.shape}")


def eye_angle(landmarks: np.ndarray) -> float:
    """Angle of the eye line in degrees, positive when the right eye is lower in the image."""
    left, right = eye_centres(landmarks)
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def alignment_matrix(face: Face, size: tuple[int, int] = (48, 48), margin: float = 0.2) -> np.ndarray:
    """The 2x3 affine matrix that maps image pixels to the aligned crop of ``face``.

    size: output (height, width). margin: extra room on each side, as a fraction of the
    box's width (left and right) and height (top and bottom).
    """
    x1, y1, x2, y2 = face.box
    if x2 <= x1 or y2 <= y1:
        raise FaceError(f"the face box {face.box} is empty: expected x1 < x2 and y1 < y2")
    if margin < 0:
        raise FaceError(f"the crop margin must be 0 or more, got {margin}")
    height, width = size
    scale = min(width / ((x2 - x1) * (1 + 2 * margin)), height / ((y2 - y1) * (1 + 2 * margin)))
    angle = eye_angle(face.landmarks) if face.landmarks is not None else 0.0
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    # Box coordinates put pixel centres at +0.5, OpenCV's at +0.
    matrix = cv2.getRotationMatrix2D((cx - 0.5, cy - 0.5), angle, scale)
    matrix[:, 2] += (width / 2 - cx, height / 2 - cy)
    return matrix


def align_face(
    image: np.ndarray,
    face: Face,
    size: tuple[int, int] = (48, 48),
    grayscale: bool = True,
    margin: float = 0.2,
) -> np.ndarray:
    """Crop ``face`` out of ``image`` (RGB or grayscale uint8), levelled by its eyes.

    Returns a uint8 array of shape ``size`` (height, width) when ``grayscale``, else
    (height, width, 3) RGB. See `alignment_matrix` for ``size`` and ``margin``.
    """
    matrix = alignment_matrix(face, size, margin)
    height, width = size
    crop = cv2.warpAffine(
        as_rgb(image),
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if grayscale else crop
