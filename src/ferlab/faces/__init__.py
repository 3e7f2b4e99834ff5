"""Face detection and alignment: find faces in a photo and crop them for an expression model.

Example::

    detector = get_detector()  # DEFAULT_DETECTOR; or "blazeface", "opencv", "dlib", "mtcnn" by name
    faces = detector.detect(rgb)  # RGB uint8 (H, W, 3) or grayscale (H, W)
    crops = [align_face(rgb, face) for face in faces]  # 48x48 grayscale uint8

Every name but `DEFAULT_DETECTOR` is imported on first use, so reading the default (the CLI does,
to show it in ``--help``) does not load OpenCV.
"""

import importlib.util

from ferlab.lazy import lazy_exports

DEFAULT_DETECTOR = "yunet" if importlib.util.find_spec("yuface") is not None else "blazeface"
"""The detector used when none is named: by `ferlab.app.FaceAnalyzer`, `ferlab.analyze`, the CLI
(``predict``, ``demo``, ``video``, ``explain``, ``serve``, ``monitor run``; ``eval --detector``'s
help names it) and the server's settings. ``yunet`` where its package, ``yuface``, is installed
(the light install takes it on CPython <= 3.11, Linux x86_64 and Windows, where it has wheels),
``blazeface`` (shipped with ferlab, no extra package) elsewhere. Chosen from the side-by-side
scores in ``results/detection.md``. Found without importing ``yuface``."""

_HOMES = {
    "align_face": "ferlab.faces.align",
    "alignment_matrix": "ferlab.faces.align",
    "eye_angle": "ferlab.faces.align",
    "eye_centres": "ferlab.faces.align",
    "BoxXYXY": "ferlab.faces.base",
    "Detector": "ferlab.faces.base",
    "Face": "ferlab.faces.base",
    "as_rgb": "ferlab.faces.base",
    "file_safe": "ferlab.faces.detectors",
    "get_detector": "ferlab.faces.detectors",
    "list_detectors": "ferlab.faces.detectors",
    "FaceError": "ferlab.faces.errors",
}
__getattr__ = lazy_exports(__name__, _HOMES)
__all__ = ["DEFAULT_DETECTOR", *_HOMES]
