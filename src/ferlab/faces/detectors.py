"""Face detectors behind one interface: ``get_detector(name, **options).detect(image)``.

Images are numpy arrays, RGB ``uint8`` of shape (H, W, 3); grayscale (H, W) is converted
to RGB. ``detect`` returns a list of `Face`, best score first, with boxes clipped to the
image. Backends, chosen by name (see `list_detectors`):

- ``yunet`` (the default where its package installs: in the light install on CPython <= 3.11,
  Linux x86_64 and Windows): YuNet run by libfacedetection (``yuface``), with five landmarks,
  see `ferlab.faces.yunet`.
- ``blazeface`` (the default elsewhere, no extra install): MediaPipe's BlazeFace run by OpenCV's
  DNN module, with six landmarks, see `ferlab.faces.blazeface`.
- ``opencv`` (no extra install): the frontal-face Haar cascade shipped with
  OpenCV (Viola & Jones, CVPR 2001; Lienhart & Maydt, ICIP 2002). No landmarks.
- ``dlib`` (extra ``ferlab[dlib]``): dlib's HOG detector (Dalal & Triggs, CVPR 2005) or its
  CNN MMOD detector (King, arXiv:1502.00046, 2015), with the 68 iBUG 300-W landmarks from
  an ensemble of regression trees (Kazemi & Sullivan, CVPR 2014).
- ``mtcnn`` (extra ``ferlab[mtcnn]``): Zhang et al. 2016 with 5 landmarks, see
  `ferlab.faces.mtcnn`.
- ``none``: no detection, the whole image is the face (for images that are face crops).

A name may carry its backend's options, ``name:key=value,key=value`` (``opencv:min_neighbors=8``),
so one string configures the detector everywhere a name is taken (the CLI's ``--detector``,
`ferlab.app.FaceAnalyzer`, the server's settings).

All run offline: weights come from installed packages, never from the network.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np

from ferlab.constraints import Finite, Ge, Gt, Interval, OneOf, check_value
from ferlab.faces import DEFAULT_DETECTOR
from ferlab.faces.base import Detector, Face, missing_extra, package_folder
from ferlab.faces.boxes import nms_keep
from ferlab.faces.errors import FaceError


class HaarDetector(Detector):
    """OpenCV's frontal-face Haar cascade (``haarcascade_frontalface_default.xml``).

    The image is converted to gray and histogram-equalised, as in OpenCV's facedetect
    sample. The score is the level weight from ``detectMultiScale3(...,
    outputRejectLevels=True)``: the last stage's sum of weak classifiers, uncalibrated and
    possibly negative (7.4 on the astronaut photo). Boxes that OpenCV's neighbour grouping
    leaves overlapping are merged by NMS.

    scale_factor: pyramid step between scanned scales.
    min_neighbors: overlapping raw hits a face needs; higher means fewer false positives.
    min_size: smallest face side in pixels.
    nms_iou: IoU above which the lower-scored of two boxes is dropped.
    """

    name = "opencv"

    def __init__(
        self,
        scale_factor: Annotated[float, Gt(1), Finite()] = 1.1,
        min_neighbors: Annotated[int, Ge(0)] = 5,
        min_size: Annotated[int, Ge(1)] = 30,
        nms_iou: Annotated[float, Interval(ge=0, le=1)] = 0.3,
    ) -> None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FaceError(f"cannot load OpenCV's Haar cascade {path}: reinstall opencv-python-headless")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.nms_iou = nms_iou

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        rects, _, weights = self._cascade.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
            outputRejectLevels=True,
        )
        if len(rects) == 0:
            return []
        boxes = np.asarray(rects, dtype=np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        scores = np.asarray(weights, dtype=np.float32).reshape(-1)
        return [Face(tuple(boxes[i].tolist()), float(scores[i])) for i in nms_keep(boxes, scores, self.nms_iou)]


class DlibDetector(Detector):
    """dlib's HOG or CNN (MMOD) face detector with 68-point landmarks.

    Models come from the ``face-recognition-models`` package (``mmod_human_face_detector.dat``,
    ``shape_predictor_68_face_landmarks.dat``); it is located, not imported, because its
    ``__init__`` needs ``pkg_resources``, which current setuptools no longer ships.

    model: "hog" (fast, frontal faces) or "cnn" (more robust to pose and light, but about
        60 times slower on a CPU: 2.6 s against 40 ms for a 512x512 photo on 2 cores).
    upsample: how many times the image is doubled before detection. At 0 both models find
        faces from about 60 px wide (measured on the astronaut photo); each doubling halves
        that at about four times the cost.
    threshold: score a face must exceed (the HOG SVM margin or the CNN confidence).
    landmarks: predict the 68 landmarks of each face.
    """

    name = "dlib"

    def __init__(
        self,
        model: Annotated[str, OneOf(("hog", "cnn"))] = "hog",
        upsample: Annotated[int, Interval(ge=0, le=4)] = 0,
        threshold: Annotated[float, Finite()] = 0.0,
        landmarks: bool = True,
    ) -> None:
        if model not in ("hog", "cnn"):
            raise FaceError(f"unknown dlib face model {model!r}; available: cnn, hog")
        try:
            import dlib
        except ImportError:
            raise FaceError(missing_extra("dlib")) from None
        models = package_folder("face_recognition_models", "dlib") / "models"
        if model == "hog":
            self._detector = dlib.get_frontal_face_detector()
        else:
            self._detector = dlib.cnn_face_detection_model_v1(str(models / "mmod_human_face_detector.dat"))
        self._predictor = (
            dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat")) if landmarks else None
        )
        self.model = model
        self.upsample = upsample
        self.threshold = threshold
        self.landmarks = landmarks

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        if self.model == "hog":
            rects, scores, _ = self._detector.run(rgb, self.upsample, self.threshold)
        elif min(rgb.shape[:2]) * 2**self.upsample < 20:  # dlib's CNN raises on images under ~10 px
            return []
        else:
            found = [d for d in self._detector(rgb, self.upsample) if d.confidence > self.threshold]
            rects, scores = [d.rect for d in found], [d.confidence for d in found]
        return [
            Face(
                (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1)),
                float(score),
                self._landmarks(rgb, r),
            )
            for r, score in zip(rects, scores, strict=True)
        ]

    def _landmarks(self, rgb: np.ndarray, rect: Any) -> np.ndarray | None:
        if self._predictor is None:
            return None
        shape = self._predictor(rgb, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


class WholeImageDetector(Detector):
    """``none``: no detection; the whole image is one face (score 1.0, no landmarks).

    For images that are already face crops, such as the output of another pipeline or a
    dataset of aligned faces.
    """

    name = "none"

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        height, width = rgb.shape[:2]
        return [Face((0.0, 0.0, float(width), float(height)), 1.0)]


def _imported(module: str, backend: str) -> Callable[[], type[Detector]]:
    """A backend imported on first use: only its users load its weights and packages."""
    return lambda: getattr(importlib.import_module(module), backend)


_BACKENDS: dict[str, Callable[[], type[Detector]]] = {
    "blazeface": _imported("ferlab.faces.blazeface", "BlazeFaceDetector"),
    "opencv": lambda: HaarDetector,
    "dlib": lambda: DlibDetector,
    "mtcnn": _imported("ferlab.faces.mtcnn", "MTCNNDetector"),
    "yunet": _imported("ferlab.faces.yunet", "YuNetDetector"),
    "none": lambda: WholeImageDetector,
}


class ScaledDetector(Detector):
    """Another detector run on a copy of the image shrunk to at most ``max_side`` pixels.

    Detection cost grows with the pixel count, so a 640x480 frame searched at 320x240
    costs about a quarter; faces smaller than the inner detector's minimum size times the
    shrink factor are missed. Boxes and landmarks come back in full-image pixels.
    """

    def __init__(self, inner: Detector, max_side: int) -> None:
        if max_side < 32:
            raise FaceError(f"max_side must be at least 32 pixels, got {max_side}")
        self.inner = inner
        self.max_side = max_side
        self.name = inner.name

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        factor = self.max_side / max(rgb.shape[:2])
        if factor >= 1:
            return self.inner.detect(rgb)
        size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        return [
            Face(
                tuple(v / factor for v in face.box),
                face.score,
                None if face.landmarks is None else face.landmarks / factor,
            )
            for face in self.inner.detect(small)
        ]


def file_safe(spec: str) -> str:
    """Detector name and options fit for a file name: ``opencv:min_neighbors=8`` gives ``opencv-min_neighbors=8``."""
    return re.sub(r"[^\w.=-]+", "-", spec)


def list_detectors() -> list[str]:
    """The names `get_detector` accepts (the optional ones may still need their extra)."""
    return sorted(_BACKENDS)


def parse_detector(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``name[:key=value,...]`` into the backend's name and its options. A value is read as a
    Python literal (``8``, ``0.5``, ``(0.6, 0.7, 0.8)``) where it is one, else kept as text."""
    name, _, listed = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in _split_top_level(listed))):
        key, equals, text = item.partition("=")
        if not equals or not key.strip():
            raise FaceError(f"detector {spec!r}: expected key=value options after the colon, got {item!r}")
        try:
            options[key.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = text.strip()
    return name.strip(), options


def _split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets (a tuple value keeps its own commas)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in "([") - (char in ")]")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _check_options(name: str, accepted: Mapping[str, inspect.Parameter], options: dict[str, Any]) -> None:
    """Refuse an option the backend does not take, or a value of another type than its default's."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = f"its options: {', '.join(accepted)}" if accepted else "it takes none"
        raise FaceError(f"face detector {name!r} has no option {', '.join(unknown)}; {takes}")
    for key, value in options.items():
        default = accepted[key].default
        if default is inspect.Parameter.empty or _same_kind(value, default):
            continue
        raise FaceError(f"face detector {name!r}: {key} must be of type {type(default).__name__}, got {value!r}")


def _same_kind(value: Any, default: Any) -> bool:
    """Whether ``value`` can stand for ``default``: the same type, an int for a float, a list for a tuple."""
    if isinstance(value, bool) or isinstance(default, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    accepted = {float: (int, float), tuple: (tuple, list)}.get(type(default), type(default))
    return isinstance(value, accepted)


def get_detector(name: str = DEFAULT_DETECTOR, max_side: int | None = None, **options: Any) -> Detector:
    """Build the detector called ``name`` with its keyword ``options``; ``name`` may carry options
    itself (``"opencv:min_neighbors=8"``, see `parse_detector`), and keyword ones win.

    With ``max_side``, images larger than that are searched shrunk (see `ScaledDetector`).
    """
    name, listed = parse_detector(name)
    try:
        backend = _BACKENDS[name]()
    except KeyError:
        raise FaceError(f"unknown face detector {name!r}; available: {', '.join(list_detectors())}") from None
    options = {**listed, **options}
    _check_options(name, inspect.signature(backend).parameters, options)
    constraints = typing.get_type_hints(backend.__init__, include_extras=True)
    for key, value in options.items():
        check_value(f"detector {name} option {key}", value, getattr(constraints.get(key), "__metadata__", ()))
    detector = backend(**options)
    return detector if max_side is None else ScaledDetector(detector, max_side)
