"""Annotating images: a box per face with its expression and probability."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ferlab.app.analyze import FaceResult
from ferlab.atomic import write_atomically

COLORS = {
    "angry": (220, 40, 40),
    "contempt": (150, 60, 150),
    "disgust": (90, 150, 40),
    "fear": (140, 80, 200),
    "happy": (250, 200, 0),
    "sad": (40, 110, 220),
    "surprise": (250, 130, 0),
    "neutral": (170, 170, 170),
}
"""RGB colour of each canonical expression; other labels are drawn in white."""


def annotate(rgb: np.ndarray, faces: Sequence[FaceResult], names: Sequence[str] | None = None) -> np.ndarray:
    """A copy of ``rgb`` with each face's box and ``label 0.93`` (prefixed by ``names[i]`` if given)."""
    out = np.ascontiguousarray(rgb.copy())
    scale = max(0.4, min(out.shape[:2]) / 800)
    thickness = max(1, round(2 * scale))
    for i, face in enumerate(faces):
        color = COLORS.get(face.label, (255, 255, 255))
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        text = f"{face.label} {face.confidence:.2f}"
        if names is not None:
            text = f"{names[i]} {text}"
        (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = y1 - height - baseline - 2 if y1 - height - baseline - 2 >= 0 else y2
        cv2.rectangle(out, (x1, top), (x1 + width + 4, top + height + baseline + 2), color, cv2.FILLED)
        cv2.putText(
            out, text, (x1 + 2, top + height + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA
        )
    return out


def encode_rgb(rgb: np.ndarray, suffix: str = ".png") -> bytes:
    """An RGB uint8 image as the bytes of an image file of the format ``suffix`` names."""
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"OpenCV cannot encode {suffix} images")
    return encoded.tobytes()


def save_rgb(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image (format from the suffix) whole or not at all (`write_atomically`:
    an interrupted run leaves no truncated image); parent folders are created."""
    try:
        encoded = encode_rgb(rgb, path.suffix or ".png")
    except OSError as error:
        raise OSError(f"{path}: {error}") from None
    write_atomically(path, encoded)
