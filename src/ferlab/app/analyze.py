"""`FaceAnalyzer`: detect faces, align them, classify their expressions."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ferlab.app.classifier import CropClassifier, load_classifier
from ferlab.data.images import ImageReadError, read_image
from ferlab.errors import FerlabError
from ferlab.faces import Face, align_face, get_detector
from ferlab.faces.detectors import Box, Detector
from ferlab.weights import DEFAULT_MODEL

CROP_MARGIN = 0.2
"""Margin around the detector's box, as a fraction of its size, when cropping for the model."""


@dataclass(frozen=True, eq=False)
class FaceResult:
    """One face found in an image and its expression.

    box: ``(x1, y1, x2, y2)`` in pixels of the analysed image.
    score: the detector's confidence (scales differ between detectors).
    landmarks: ``(K, 2)`` points from the detector, or None.
    label: the most probable expression.
    probabilities: every class name → its probability (summing to 1).
    """

    box: Box
    score: float
    landmarks: Optional[np.ndarray]
    label: str
    probabilities: dict[str, float]

    @property
    def confidence(self) -> float:
        """The probability of ``label``."""
        return self.probabilities[self.label]

    def as_face(self) -> Face:
        """The detection part, for `ferlab.faces.align_face`."""
        return Face(self.box, self.score, self.landmarks)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: box (rounded to 0.1 px), score, landmarks, label, probabilities."""
        return {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": None if self.landmarks is None else np.round(self.landmarks, 1).tolist(),
            "label": self.label,
            "probabilities": {name: round(p, 5) for name, p in self.probabilities.items()},
        }


class FaceAnalyzer:
    """Detector + alignment + expression classifier, configured once, applied to many images.

    detector: a detector name (``opencv``, ``dlib``, ``mtcnn``) or a built `Detector`.
    model: a shipped model name, a run folder, a model file, or a built `CropClassifier`.
    backend: what runs a model given by name or path: ``torch``, ``onnx`` (ONNX Runtime) or
        ``auto`` (see `ferlab.app.classifier.resolve_backend`).
    tta: test-time augmentation of a model given by name or path: ``none``, ``flip`` or
        ``tencrop`` (see `ferlab.app.classifier.CropClassifier`).
    margin: crop margin around each face box (see `ferlab.faces.align_face`).
    """

    def __init__(self, detector: str | Detector = "opencv", model: str | Path | CropClassifier = DEFAULT_MODEL,
                 margin: float = CROP_MARGIN, backend: str = "auto", tta: str = "none") -> None:
        self.detector = get_detector(detector) if isinstance(detector, str) else detector
        self.classifier = model if isinstance(model, CropClassifier) else load_classifier(model, backend, tta)
        self.margin = margin

    def crops(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        """The model-ready crops (uint8, the model's size and channels) of ``faces``."""
        _, height, width = self.classifier.input_size
        gray = self.classifier.grayscale
        shape = (0, height, width) if gray else (0, height, width, 3)
        if not faces:
            return np.empty(shape, dtype=np.uint8)
        return np.stack([align_face(rgb, face, (height, width), gray, self.margin) for face in faces])

    def classify(self, rgb: np.ndarray, faces: list[Face]) -> list[FaceResult]:
        """Expressions of already-detected ``faces`` in ``rgb``."""
        probabilities = self.classifier.predict_proba(self.crops(rgb, faces))
        classes = self.classifier.classes
        results = []
        for face, row in zip(faces, probabilities):
            label = classes[int(np.argmax(row))]
            results.append(FaceResult(face.box, face.score, face.landmarks, label,
                                      {name: float(p) for name, p in zip(classes, row)}))
        return results

    def analyze(self, rgb: np.ndarray) -> list[FaceResult]:
        """Every face in an RGB (or grayscale) uint8 image with its expression, surest face first."""
        return self.classify(rgb, self.detector.detect(rgb))


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8; `FerlabError` naming the file when it cannot be read."""
    try:
        return read_image(Path(path), color="rgb")
    except ImageReadError as error:
        raise FerlabError(f"{path}: {error}") from None


@functools.lru_cache(maxsize=4)
def _cached_analyzer(detector: str, model: str, backend: str, tta: str) -> FaceAnalyzer:
    return FaceAnalyzer(detector, model, backend=backend, tta=tta)


def analyze(image: np.ndarray | str | Path, detector: str = "opencv", model: str = DEFAULT_MODEL,
            backend: str = "auto", tta: str = "none") -> list[dict[str, Any]]:
    """Faces and expressions in one image (array or file path), as plain dicts.

    Each dict holds ``box`` (x1, y1, x2, y2), ``score``, ``landmarks``, ``label`` (the top
    expression) and ``probabilities`` (class → probability). The detector and model (run by
    ``backend`` with test-time augmentation ``tta``, see `FaceAnalyzer`) are loaded on the
    first call and reused.
    """
    rgb = load_rgb(image) if isinstance(image, (str, Path)) else image
    return [face.to_dict() for face in _cached_analyzer(detector, str(model), backend, tta).analyze(rgb)]
