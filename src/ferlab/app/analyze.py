"""`FaceAnalyzer`: detect faces, align them, classify their expressions."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferlab.app.classifier import load_classifier
from ferlab.app.crop_classifier import CropClassifier
from ferlab.app.crop_gate import CropGate
from ferlab.data.images import ImageReadError, array_to_rgb, read_image, resize_pixels
from ferlab.errors import FerlabError
from ferlab.faces import DEFAULT_DETECTOR, Face, align_face, get_detector
from ferlab.faces.base import BoxXYXY, Detector
from ferlab.priors import DEFAULT_PRIOR
from ferlab.weights import DEFAULT_MODEL

WHOLE_IMAGE = "none"
"""The detector name of a face that is the whole image (``--detector none``, or the crop rule).
Such an image is the crop itself: it is resized to the model's input as the dataset readers
resize their images, with no margin (see `ferlab.data.images.resize_pixels`)."""
CROP_MAX_SIDE = 400
CROP_ASPECT = (0.6, 1.7)
"""The crop rule: an image in which the detector finds no face is taken as one face crop,
classified whole and marked ``detector: none``, when its longer side is at most
`CROP_MAX_SIDE` pixels and its width / height lies within `CROP_ASPECT`, as with the
crops that datasets and other face pipelines write (FER2013 48x48, SFEW 143x181, ...), and
it passes `ferlab.app.crop_gate.CropGate` (not blank, not noise). Other images with no face
found stay without faces."""
CROP_FACE_SHARE = 0.5
"""The crop rule also takes such an image for a face crop when the detector finds one face whose box
covers at least this share of its area: cropping that box again with a margin reaches past the crop
into black fill. YuNet finds the face in nearly every SFEW crop (its box covers a median 95% of it);
the share was fixed at a half before measuring its effect (``results/detection.md``)."""


def looks_like_crop(height: int, width: int) -> bool:
    """Whether an image of this size is taken for a face crop by the crop rule (see `CROP_MAX_SIDE`)."""
    return max(height, width) <= CROP_MAX_SIDE and CROP_ASPECT[0] <= width / height <= CROP_ASPECT[1]


@dataclass(frozen=True, eq=False)
class FaceResult:
    """One face found in an image and its expression.

    box: ``(x1, y1, x2, y2)`` in pixels of the analysed image.
    score: the detector's confidence (scales differ between detectors).
    landmarks: ``(K, 2)`` points from the detector, or None.
    label: the most probable expression.
    probabilities: every class name → its probability (summing to 1).
    detector: the detector that found the face; ``none`` when the face is the whole image
        (``--detector none`` or the crop rule, see `CROP_MAX_SIDE`).
    """

    box: BoxXYXY
    score: float
    landmarks: np.ndarray | None
    label: str
    probabilities: dict[str, float]
    detector: str = DEFAULT_DETECTOR

    @property
    def confidence(self) -> float:
        """The probability of ``label``."""
        return self.probabilities[self.label]

    def as_face(self) -> Face:
        """The detection part, for `ferlab.faces.align_face`."""
        return Face(self.box, self.score, self.landmarks)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: box (rounded to 0.1 px), score, detector, landmarks, label, probabilities."""
        return {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "detector": self.detector,
            "landmarks": None if self.landmarks is None else np.round(self.landmarks, 1).tolist(),
            "label": self.label,
            "probabilities": {name: round(p, 5) for name, p in self.probabilities.items()},
        }


class FaceAnalyzer:
    """Detector + alignment + expression classifier, configured once, applied to many images.

    detector: a detector name (`DEFAULT_DETECTOR`: ``yunet`` or ``blazeface``; ``opencv``, ``dlib``, ``mtcnn``, or
        ``none``: the whole image is the face) or a built `Detector`.
    model: a shipped model name, a run folder, a model file, or a built `CropClassifier`.
    backend: what runs a model given by name or path: ``torch``, ``onnx`` (ONNX Runtime) or
        ``auto`` (see `ferlab.app.classifier.resolve_backend`).
    tta: test-time augmentation of a model given by name or path: ``none``, ``flip`` or
        ``tencrop`` (see `ferlab.app.classifier.CropClassifier`).
    prior: operating point of a model given by name or path: ``data`` (the training class
        shares), ``balanced`` (every class equally likely) or ``tuned`` (the model's own strength between
        the two, where it stores one; see `ferlab.priors`).
    margin: crop margin around each face box (see `ferlab.faces.align_face`); default: the
        model's own (its stored `ferlab.preprocess.Preprocessing`).
    crop_rule: classify an image in which no face is found, or one face covering most of it, as
        one face crop when its size says it is one and it passes the gate (see `CROP_MAX_SIDE`,
        `CROP_FACE_SHARE`).
    """

    def __init__(
        self,
        detector: str | Detector = DEFAULT_DETECTOR,
        model: str | Path | CropClassifier = DEFAULT_MODEL,
        margin: float | None = None,
        backend: str = "auto",
        tta: str = "none",
        crop_rule: bool = True,
        prior: str = DEFAULT_PRIOR,
    ) -> None:
        self.detector = get_detector(detector) if isinstance(detector, str) else detector
        self.classifier = model if isinstance(model, CropClassifier) else load_classifier(model, backend, tta, prior)
        self.margin = self.classifier.preprocessing.crop_margin if margin is None else margin
        self.crop_rule = crop_rule
        self.gate = CropGate()

    def crops(self, rgb: np.ndarray, faces: list[Face], whole_image: bool = False) -> np.ndarray:
        """The model-ready crops (uint8, the model's size and channels) of ``faces``, or of the
        whole image when ``whole_image`` (see `WHOLE_IMAGE`)."""
        _, height, width = self.classifier.input_size
        gray = self.classifier.grayscale
        shape = (0, height, width) if gray else (0, height, width, 3)
        if not faces:
            return np.empty(shape, dtype=np.uint8)
        if whole_image:
            return np.stack([resize_pixels(rgb, (height, width), "gray" if gray else "rgb")] * len(faces))
        return np.stack([align_face(rgb, face, (height, width), gray, self.margin) for face in faces])

    def classify(self, rgb: np.ndarray, faces: list[Face], detector: str | None = None) -> list[FaceResult]:
        """Expressions of already-detected ``faces`` in ``rgb`` (found by ``detector``, default this one's)."""
        found_by = detector or getattr(self.detector, "name", "custom")
        probabilities = self.classifier.predict_proba(self.crops(rgb, faces, found_by == WHOLE_IMAGE))
        classes = self.classifier.classes
        results = []
        for face, row in zip(faces, probabilities):
            label = classes[int(np.argmax(row))]
            results.append(
                FaceResult(
                    face.box,
                    face.score,
                    face.landmarks,
                    label,
                    {name: float(p) for name, p in zip(classes, row)},
                    found_by,
                )
            )
        return results

    def analyze(self, image: np.ndarray) -> list[FaceResult]:
        """Every face in an image array with its expression, surest face first.

        Any array `ferlab.data.images.array_to_rgb` takes: gray, RGB or RGBA, uint8 or float; other
        arrays raise a one-line `OptionError`. With no face found, the crop rule may take the whole image
        as the face (see `crop_rule`)."""
        rgb = array_to_rgb(image)
        faces = self.detector.detect(rgb)
        whole_image = getattr(self.detector, "name", "") == WHOLE_IMAGE
        if (
            (faces and not _fills(faces, rgb.shape[:2]))
            or not self.crop_rule
            or whole_image
            or not looks_like_crop(*rgb.shape[:2])
            or not self.gate(rgb)
        ):
            return self.classify(rgb, faces)
        return self.classify(rgb, get_detector(WHOLE_IMAGE).detect(rgb), WHOLE_IMAGE)


def _fills(faces: list[Face], shape: tuple[int, ...]) -> bool:
    """Whether ``faces`` is one face whose box covers at least `CROP_FACE_SHARE` of an image of ``shape``."""
    if len(faces) != 1:
        return False
    x1, y1, x2, y2 = faces[0].box
    return (x2 - x1) * (y2 - y1) >= CROP_FACE_SHARE * shape[0] * shape[1]


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8; `FerlabError` naming the file when it cannot be read."""
    try:
        return read_image(Path(path), color="rgb")
    except ImageReadError as error:
        raise FerlabError(f"{path}: {error}") from None


@functools.lru_cache(maxsize=4)
def _cached_analyzer(detector: str, model: str, backend: str, tta: str, prior: str) -> FaceAnalyzer:
    return FaceAnalyzer(detector, model, backend=backend, tta=tta, prior=prior)


def analyze(
    image: np.ndarray | str | Path,
    detector: str = DEFAULT_DETECTOR,
    model: str = DEFAULT_MODEL,
    backend: str = "auto",
    tta: str = "none",
    prior: str = DEFAULT_PRIOR,
) -> list[dict[str, Any]]:
    """Faces and expressions in one image (array or file path), as plain dicts.

    Each dict holds ``box`` (x1, y1, x2, y2), ``score``, ``detector``, ``landmarks``,
    ``label`` (the top expression) and ``probabilities`` (class → probability).
    ``detector="none"`` takes the whole image as the face; with another detector, an image
    with no face found whose size says it is a face crop is classified whole (the crop
    rule, see `CROP_MAX_SIDE`). The detector and model (run by ``backend`` with test-time
    augmentation ``tta`` at operating point ``prior``, see `FaceAnalyzer`) are loaded on the first
    call and reused.
    """
    rgb = load_rgb(image) if isinstance(image, (str, Path)) else image
    return [face.to_dict() for face in _cached_analyzer(detector, str(model), backend, tta, prior).analyze(rgb)]
